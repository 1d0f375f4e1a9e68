package dev.flinkai.operators.ingest;

import dev.flinkai.schemas.DeadLetter;
import dev.flinkai.schemas.ModelUpdate;
import dev.flinkai.schemas.UserEvent;
import dev.flinkai.schemas.UserProfile;

import org.apache.flink.api.common.typeinfo.TypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInfoFactory;
import org.apache.flink.api.common.typeinfo.TypeInformation;

import java.lang.reflect.Type;
import java.util.Map;

/**
 * What a source hands on for each input record: a valid event, user profile or model update with the time it entered
 * the pipeline, or a dead letter saying why the record could not be used. Exactly one of the four is set. Decoding
 * never throws, so one bad record cannot restart the job. Flink (de)serializes it with
 * {@link ReceivedRecordSerializer} wherever it is used.
 */
@TypeInfo(ReceivedRecord.TypeFactory.class)
public class ReceivedRecord {
    public UserEvent event;
    public UserProfile profile;
    public ModelUpdate modelUpdate;
    public long ingestTimeMillis;
    public DeadLetter deadLetter;

    public ReceivedRecord() {}

    public static ReceivedRecord valid(UserEvent event, long ingestTimeMillis) {
        ReceivedRecord r = new ReceivedRecord();
        r.event = event;
        r.ingestTimeMillis = ingestTimeMillis;
        return r;
    }

    public static ReceivedRecord profile(UserProfile profile, long ingestTimeMillis) {
        ReceivedRecord r = new ReceivedRecord();
        r.profile = profile;
        r.ingestTimeMillis = ingestTimeMillis;
        return r;
    }

    public static ReceivedRecord modelUpdate(ModelUpdate update, long ingestTimeMillis) {
        ReceivedRecord r = new ReceivedRecord();
        r.modelUpdate = update;
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
        return deadLetter == null;
    }

    /** The user of an event or a profile: the key of the per-user context. */
    public String userId() {
        return event != null ? event.getUserId() : profile.getUserId();
    }

    /** The event's time, else the time it entered the pipeline. */
    public long timestampMillis() {
        return event != null ? event.getEventTimeMillis() : ingestTimeMillis;
    }

    @Override
    public String toString() {
        return event != null ? "ReceivedRecord{" + event.getEventId() + "}"
                : profile != null ? "ReceivedRecord{profile of " + profile.getUserId() + "}"
                : modelUpdate != null ? "ReceivedRecord{model update " + modelUpdate.getVersion() + "}"
                : "ReceivedRecord{dead: " + deadLetter.getReason() + "}";
    }

    /** Tells Flink's type extraction to use {@link ReceivedRecordSerializer}. */
    public static final class TypeFactory extends TypeInfoFactory<ReceivedRecord> {
        @Override
        public TypeInformation<ReceivedRecord> createTypeInfo(Type type, Map<String, TypeInformation<?>> genericParameters) {
            return ReceivedRecordSerializer.TYPE;
        }
    }
}
