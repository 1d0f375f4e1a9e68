package dev.flinkai.jobs.kafka;

import dev.flinkai.schemas.EventType;
import dev.flinkai.schemas.UserEvent;

import org.apache.avro.Schema;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Reads a {@link UserEvent} from Avro binary encoding, written with the schema the generated class has (the same
 * contract as Flink's {@code AvroDeserializationSchema.forSpecific}), straight from the record's bytes. Avro's reader
 * goes through an input stream, a resolving decoder that checks each read against the schema's grammar, and a
 * resolver cache lookup per record; on the job's source thread that was most of the time spent per event.
 *
 * <p>A test holds it to Avro's own reader on random events. Malformed input (truncated, a negative or oversized
 * length, an unknown enum symbol or union branch) throws an {@link IOException}, which the caller turns into a dead
 * letter. Bytes after the last field are ignored, as Avro does. It knows the fields {@code UserEvent} has today and
 * refuses to start if the generated class has others.
 */
final class UserEventDecoder {

    static final List<String> FIELDS = List.of("eventId:STRING", "userId:STRING", "sessionId:STRING",
            "eventType:ENUM", "eventTimeMillis:LONG", "priority:INT", "feature:UNION<NULL,STRING>",
            "latencyMillis:INT", "inputTokens:INT", "outputTokens:INT", "success:UNION<NULL,BOOLEAN>",
            "rating:UNION<NULL,INT>");
    private static final EventType[] EVENT_TYPES = EventType.values();

    private byte[] buf;
    private int pos;

    UserEventDecoder() {
        checkSchema(UserEvent.getClassSchema());
    }

    static void checkSchema(Schema schema) {
        AvroFields.requireExactly(schema, FIELDS, "UserEventDecoder reads");
        List<String> symbols = schema.getField("eventType").schema().getEnumSymbols();
        for (int i = 0; i < EVENT_TYPES.length; i++) {
            if (!EVENT_TYPES[i].name().equals(symbols.get(i))) {
                throw new IllegalStateException("EventType symbols " + symbols + " do not match the generated enum");
            }
        }
    }

    UserEvent decode(byte[] bytes) throws IOException {
        buf = bytes;
        pos = 0;
        UserEvent e = new UserEvent();
        e.setEventId(readString());
        e.setUserId(readString());
        e.setSessionId(readString());
        int type = readInt();
        if (type < 0 || type >= EVENT_TYPES.length) {
            throw new IOException("eventType: no enum symbol with index " + type);
        }
        e.setEventType(EVENT_TYPES[type]);
        e.setEventTimeMillis(readLong());
        e.setPriority(readInt());
        e.setFeature(readUnionBranch("feature") == 0 ? null : readString());
        e.setLatencyMillis(readInt());
        e.setInputTokens(readInt());
        e.setOutputTokens(readInt());
        e.setSuccess(readUnionBranch("success") == 0 ? null : readBoolean());
        e.setRating(readUnionBranch("rating") == 0 ? null : readInt());
        buf = null;
        return e;
    }

    private int readUnionBranch(String field) throws IOException {
        int branch = readInt();
        if (branch != 0 && branch != 1) {
            throw new IOException(field + ": no union branch with index " + branch);
        }
        return branch;
    }

    private String readString() throws IOException {
        long length = readLong();
        if (length < 0 || length > buf.length - pos) {
            throw new IOException("string of length " + length + " at byte " + pos + " of " + buf.length);
        }
        String s = new String(buf, pos, (int) length, StandardCharsets.UTF_8);
        pos += (int) length;
        return s;
    }

    private boolean readBoolean() throws IOException {
        if (pos >= buf.length) {
            throw new IOException("truncated: boolean expected at byte " + pos);
        }
        return buf[pos++] == 1; // as Avro reads it
    }

    private int readInt() throws IOException {
        long value = readLong();
        if (value != (int) value) {
            throw new IOException("int out of range: " + value);
        }
        return (int) value;
    }

    /** Avro long: 7 bits per byte, low bits first, then zig-zag. */
    private long readLong() throws IOException {
        long raw = 0;
        for (int shift = 0; shift < 70; shift += 7) {
            if (pos >= buf.length) {
                throw new IOException("truncated: number expected at byte " + pos);
            }
            int b = buf[pos++];
            raw |= (long) (b & 0x7F) << shift;
            if ((b & 0x80) == 0) {
                return (raw >>> 1) ^ -(raw & 1);
            }
        }
        throw new IOException("malformed number ending at byte " + pos);
    }
}
