package dev.flinkai.operators.ingest;

import dev.flinkai.operators.codec.AvroRecordCodec;
import dev.flinkai.schemas.DeadLetter;
import dev.flinkai.schemas.ModelUpdate;
import dev.flinkai.schemas.UserProfile;

import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;

import java.io.Serializable;
import java.nio.ByteBuffer;
import java.util.HexFormat;
import java.util.Locale;

/**
 * Decodes the records of the topics beside the events, user profiles and model updates, with Avro's own coders (they
 * are few), and never throws: a record that is not such a record in Avro binary, or fails its checks, becomes a
 * {@link DeadLetter} with the reason, like a bad event ({@link UserEventDeserializer}).
 */
public final class ControlRecordDeserializer<T extends SpecificRecord>
        implements KafkaRecordDeserializationSchema<ReceivedRecord> {
    private static final long serialVersionUID = 1L;

    /** Null when the record can be used, else why not. */
    @FunctionalInterface
    interface Check<T> extends Serializable {
        String problem(T record);
    }

    @FunctionalInterface
    interface Wrap<T> extends Serializable {
        ReceivedRecord wrap(T record, long ingestTimeMillis);
    }

    private final Class<T> type;
    private final Check<T> check;
    private final Wrap<T> wrap;
    private transient AvroRecordCodec<T> codec;

    private ControlRecordDeserializer(Class<T> type, Check<T> check, Wrap<T> wrap) {
        this.type = type;
        this.check = check;
        this.wrap = wrap;
    }

    /** Profiles of the user-profiles topic. */
    public static ControlRecordDeserializer<UserProfile> profiles() {
        return new ControlRecordDeserializer<>(UserProfile.class, ControlRecordDeserializer::profileProblem,
                ReceivedRecord::profile);
    }

    /** Updates of the model-updates topic for the model named {@code modelName}; others are dead letters. */
    public static ControlRecordDeserializer<ModelUpdate> modelUpdates(String modelName) {
        return new ControlRecordDeserializer<>(ModelUpdate.class, update -> modelUpdateProblem(update, modelName),
                ReceivedRecord::modelUpdate);
    }

    static String profileProblem(UserProfile profile) {
        return profile.getUserId().isEmpty() ? "a profile without a user id" : null;
    }

    /**
     * A model update must name the served model, a version and a URI; a model file (not an endpoint) needs its
     * SHA-256, so that what is loaded is what was published.
     */
    public static String modelUpdateProblem(ModelUpdate update, String modelName) {
        if (!update.getModelName().equals(modelName)) {
            return "unknown model name '" + update.getModelName() + "': this job serves '" + modelName + "'";
        }
        if (update.getVersion().isBlank()) {
            return "a model update without a version";
        }
        String uri = update.getUri().trim();
        if (uri.isEmpty()) {
            return "a model update without a uri";
        }
        String lower = uri.toLowerCase(Locale.ROOT);
        if (lower.startsWith("http://") || lower.startsWith("https://")) {
            return null;
        }
        String sha256 = update.getSha256();
        if (sha256 == null || sha256.length() != 64 || !isHex(sha256)) {
            return "a model file update needs the file's SHA-256 as 64 hex digits, got "
                    + (sha256 == null ? "none" : "'" + sha256 + "'");
        }
        return null;
    }

    private static boolean isHex(String s) {
        try {
            HexFormat.of().parseHex(s);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    @Override
    public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<ReceivedRecord> out) {
        byte[] value = record.value();
        T decoded = null;
        String reason;
        if (value == null || value.length == 0) {
            reason = "empty record value";
        } else {
            if (codec == null) {
                codec = new AvroRecordCodec<>(type);
            }
            try {
                decoded = codec.decode(value);
                String problem = check.problem(decoded);
                reason = problem == null ? null : "invalid " + type.getSimpleName() + ": " + problem;
            } catch (Exception | StackOverflowError e) {
                reason = "not a " + type.getSimpleName() + " in Avro binary: " + e;
            }
        }
        // Emit outside the try, as UserEventDeserializer does: a failure downstream is not a bad record.
        if (reason == null) {
            out.collect(wrap.wrap(decoded, record.timestamp()));
            return;
        }
        out.collect(ReceivedRecord.dead(DeadLetter.newBuilder()
                .setPayload(value == null ? null : ByteBuffer.wrap(value))
                .setSourceTopic(record.topic())
                .setSourcePartition(record.partition())
                .setSourceOffset(record.offset())
                .setReason(reason)
                .setFailedAtMillis(System.currentTimeMillis())
                .build()));
    }

    @Override
    public TypeInformation<ReceivedRecord> getProducedType() {
        return ReceivedRecordSerializer.TYPE;
    }
}
