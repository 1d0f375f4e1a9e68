package dev.flinkai.jobs.kafka;

import dev.flinkai.schemas.Prediction;

import org.apache.avro.Schema;
import org.apache.flink.api.common.serialization.SerializationSchema;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/**
 * Writes a {@link Prediction} in Avro binary encoding, byte for byte what Avro's own writer produces (a test compares
 * them), straight into a reused buffer. Every event produces one prediction, and in the job's profile Avro's writer
 * (its encoder layers, a growing stream, a byte array per string) took more time than anything else of ours; this one
 * writes ASCII strings without an intermediate array and numbers as Avro varints directly.
 *
 * <p>It knows the fields {@code Prediction} has today and refuses to start if the generated class has others, so a
 * schema change cannot silently write records readers cannot decode.
 */
public final class PredictionSerializationSchema implements SerializationSchema<Prediction> {
    private static final long serialVersionUID = 1L;

    /** Field names and Avro types, in schema order, that {@link #serialize} writes. */
    static final List<String> FIELDS = List.of("eventId:STRING", "userId:STRING", "modelName:STRING",
            "modelVersion:STRING", "scores:ARRAY<FLOAT>", "label:STRING", "fallback:BOOLEAN",
            "fallbackReason:UNION<NULL,STRING>", "eventTimeMillis:LONG", "ingestTimeMillis:LONG",
            "predictTimeMillis:LONG");

    private transient byte[] buf;
    private transient int pos;

    public PredictionSerializationSchema() {
        checkSchema(Prediction.getClassSchema());
    }

    static void checkSchema(Schema schema) {
        AvroFields.requireExactly(schema, FIELDS, "PredictionSerializationSchema writes");
    }

    @Override
    public byte[] serialize(Prediction p) {
        if (buf == null) {
            buf = new byte[256];
        }
        pos = 0;
        writeString(p.getEventId());
        writeString(p.getUserId());
        writeString(p.getModelName());
        writeString(p.getModelVersion());
        List<Float> scores = p.getScores();
        int n = scores.size();
        if (n > 0) { // one block of n items, then the empty block that ends the array
            writeLong(n);
            ensure(4 * n);
            for (int i = 0; i < n; i++) {
                int bits = Float.floatToRawIntBits(scores.get(i));
                buf[pos++] = (byte) bits;
                buf[pos++] = (byte) (bits >>> 8);
                buf[pos++] = (byte) (bits >>> 16);
                buf[pos++] = (byte) (bits >>> 24);
            }
        }
        writeLong(0);
        writeString(p.getLabel());
        ensure(1);
        buf[pos++] = (byte) (p.getFallback() ? 1 : 0);
        String reason = p.getFallbackReason();
        if (reason == null) {
            writeLong(0); // union branch 0: null
        } else {
            writeLong(1); // union branch 1: string
            writeString(reason);
        }
        writeLong(p.getEventTimeMillis());
        writeLong(p.getIngestTimeMillis());
        writeLong(p.getPredictTimeMillis());
        return Arrays.copyOf(buf, pos);
    }

    /** Copies ASCII strings char by char (their UTF-8 length is their length); anything else goes through UTF-8. */
    private void writeString(String s) {
        int length = s.length();
        int start = pos;
        writeLong(length);
        ensure(length);
        for (int i = 0; i < length; i++) {
            char c = s.charAt(i);
            if (c >= 0x80) {
                pos = start;
                byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
                writeLong(utf8.length);
                ensure(utf8.length);
                System.arraycopy(utf8, 0, buf, pos, utf8.length);
                pos += utf8.length;
                return;
            }
            buf[pos++] = (byte) c;
        }
    }

    /** Avro int and long: zig-zag, then 7 bits per byte, low bits first. */
    private void writeLong(long value) {
        ensure(10);
        long v = (value << 1) ^ (value >> 63);
        while ((v & ~0x7FL) != 0) {
            buf[pos++] = (byte) ((v & 0x7F) | 0x80);
            v >>>= 7;
        }
        buf[pos++] = (byte) v;
    }

    private void ensure(int bytes) {
        if (pos + bytes > buf.length) {
            buf = Arrays.copyOf(buf, Math.max(buf.length * 2, pos + bytes));
        }
    }
}
