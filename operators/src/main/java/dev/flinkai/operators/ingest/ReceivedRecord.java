package dev.flinkai.operators.ingest;

import dev.flinkai.schemas.DeadLetter;
import dev.flinkai.schemas.UserEvent;

import org.apache.flink.api.common.typeinfo.TypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInfoFactory;
import org.apache.flink.api.common.typeinfo.TypeInformation;

import java.lang.reflect.Type;
import java.util.Map;

/**
 * What the source hands on for each input record: either a valid event with the time it entered the pipeline, or a
 * dead letter saying why the record could not be used. Decoding never throws, so one bad record cannot restart the
 * job. Flink (de)serializes it with {@link ReceivedRecordSerializer} wherever it is used.
 */
@TypeInfo(ReceivedRecord.TypeFactory.class)
public class ReceivedRecord {
    public UserEvent event;
    public long ingestTimeMillis;
    public DeadLetter deadLetter;

    public ReceivedRecord() {}

    public static ReceivedRecord valid(UserEvent event, long ingestTimeMillis) {
        ReceivedRecord r = new ReceivedRecord();
        r.event = event;
        r.ingestTimeMillis = ingestTimeMillis;
        return r;
    }

    public static ReceivedRecord dead(DeadLetter deadLetter) {
        ReceivedRecord r = new ReceivedRecord();
        r.deadLetter = deadLetter;
        r.ingestTimeMillis = deadLetter.getFailedAtMillis();
        return r;
    }

    public boolean isValid() {
        return event != null;
    }

    @Override
    public String toString() {
        return isValid() ? "ReceivedRecord{" + event.getEventId() + "}" : "ReceivedRecord{dead: " + deadLetter.getReason() + "}";
    }

    /** Tells Flink's type extraction to use {@link ReceivedRecordSerializer}. */
    public static final class TypeFactory extends TypeInfoFactory<ReceivedRecord> {
        @Override
        public TypeInformation<ReceivedRecord> createTypeInfo(Type type, Map<String, TypeInformation<?>> genericParameters) {
            return ReceivedRecordSerializer.TYPE;
        }
    }
}
