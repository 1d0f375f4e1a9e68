package dev.flinkai.operators.codec;

import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.avro.specific.SpecificRecord;

import java.io.ByteArrayOutputStream;
import java.io.IOException;

/**
 * Avro binary of one specific record type with Avro's own (generated) coders, for records too rare to deserve a
 * hand-written codec: control messages, profiles, model events. Not thread-safe: one per thread.
 */
public final class AvroRecordCodec<T extends SpecificRecord> {

    private final SpecificDatumWriter<T> writer;
    private final SpecificDatumReader<T> reader;
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream(128);
    private BinaryEncoder encoder;
    private BinaryDecoder decoder;

    public AvroRecordCodec(Class<T> type) {
        writer = new SpecificDatumWriter<>(type);
        reader = new SpecificDatumReader<>(type);
    }

    public byte[] encode(T record) throws IOException {
        bytes.reset();
        encoder = EncoderFactory.get().binaryEncoder(bytes, encoder);
        writer.write(record, encoder);
        encoder.flush();
        return bytes.toByteArray();
    }

    /** @throws IOException for bytes that are not such a record */
    public T decode(byte[] value) throws IOException {
        decoder = DecoderFactory.get().binaryDecoder(value, decoder);
        try {
            return reader.read(null, decoder);
        } catch (RuntimeException e) { // Avro reports some malformed input as runtime exceptions
            throw new IOException(e.toString(), e);
        }
    }
}
