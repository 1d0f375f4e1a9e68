package dev.flinkai.operators.codec;

import dev.flinkai.schemas.SchemaLayouts;

import org.apache.avro.Schema;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.avro.specific.SpecificRecord;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.List;

/**
 * Avro binary of one specific record type with Avro's own (generated) coders, for records too rare to deserve a
 * hand-written codec: control messages, profiles, model events, and predictions where another job reads them. It
 * decodes records of the type's earlier layouts too ({@link SchemaLayouts}): a topic holds those after an upgrade
 * that added a field, and the current layout cannot read them (it runs out of bytes). Not thread-safe: one per thread.
 */
public final class AvroRecordCodec<T extends SpecificRecord> {

    private final SpecificDatumWriter<T> writer;
    private final SpecificDatumReader<T> reader;
    /** Readers of the earlier layouts into the current one, newest first. */
    private final List<SpecificDatumReader<T>> earlier;
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream(128);
    private BinaryEncoder encoder;
    private BinaryDecoder decoder;

    public AvroRecordCodec(Class<T> type) {
        writer = new SpecificDatumWriter<>(type);
        reader = new SpecificDatumReader<>(type);
        Schema current = SpecificData.get().getSchema(type);
        earlier = SchemaLayouts.earlier(current).stream()
                .map(layout -> new SpecificDatumReader<T>(layout, current)).toList();
    }

    public byte[] encode(T record) throws IOException {
        bytes.reset();
        encoder = EncoderFactory.get().binaryEncoder(bytes, encoder);
        writer.write(record, encoder);
        encoder.flush();
        return bytes.toByteArray();
    }

    /**
     * The record, in the current layout (fields an earlier layout lacks get their defaults).
     *
     * @throws IOException for bytes that are not such a record in any layout (the current layout's error)
     */
    public T decode(byte[] value) throws IOException {
        try {
            return read(reader, value, false);
        } catch (IOException | RuntimeException e) { // Avro reports some malformed input as runtime exceptions
            for (SpecificDatumReader<T> layout : earlier) {
                try {
                    return read(layout, value, true);
                } catch (IOException | RuntimeException notThisLayout) {
                    // the next older one, if any
                }
            }
            throw e instanceof IOException io ? io : new IOException(e.toString(), e);
        }
    }

    /**
     * @param whole whether the record must end where the bytes end: an earlier layout must, while the current one
     *              reads records of later releases too (their added fields come last, and are skipped)
     */
    private T read(SpecificDatumReader<T> layout, byte[] value, boolean whole) throws IOException {
        decoder = DecoderFactory.get().binaryDecoder(value, decoder);
        T record = layout.read(null, decoder);
        if (whole && !decoder.isEnd()) {
            throw new IOException("bytes left after the record");
        }
        return record;
    }
}
