package dev.flinkai.jobs;

import dev.flinkai.jobs.kafka.KafkaAccess;
import dev.flinkai.operators.config.Settings;
import dev.flinkai.operators.inference.InferenceOptions;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.MemorySize;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.apache.flink.configuration.ConfigOptions.key;

/**
 * Every setting of {@link ContextInferenceJob}, declared once: key, type, default, description. The job reads them
 * from its arguments and the cluster configuration ({@link ContextInferenceSettings}); the README's settings table is
 * made from them ({@link #markdownTable}, held to the README by a test).
 */
public final class ContextInferenceOptions {

    /** The delivery guarantee of the predictions, and the mode that several defaults follow. */
    public enum Delivery {
        EXACTLY_ONCE("exactly-once"), AT_LEAST_ONCE("at-least-once");

        private final String text;

        Delivery(String text) {
            this.text = text;
        }

        @Override
        public String toString() {
            return text;
        }
    }

    /** The default of an option that depends on the delivery mode; the option's own default is the exactly-once one. */
    public record ModeDefault<T>(ConfigOption<T> option, T atLeastOnce) {
        public T forMode(Delivery delivery) {
            return delivery == Delivery.AT_LEAST_ONCE ? atLeastOnce : option.defaultValue();
        }
    }

    public static final ConfigOption<String> BOOTSTRAP_SERVERS = key("kafka.bootstrap-servers").stringType()
            .defaultValue("127.0.0.1:9092").withDescription("Kafka brokers.");
    public static final ConfigOption<String> TOPIC_EVENTS = key("topic.events").stringType()
            .defaultValue("user-events").withDescription("Input: Avro `UserEvent`s, keyed by user id.");
    public static final ConfigOption<String> TOPIC_PREDICTIONS = key("topic.predictions").stringType()
            .defaultValue("predictions").withDescription("Output: Avro `Prediction`s, keyed by user id.");
    public static final ConfigOption<String> TOPIC_DEAD_LETTERS = key("topic.dead-letters").stringType()
            .defaultValue("dead-letters").withDescription("Output: records that could not be used, with the reason.");
    public static final ConfigOption<String> TOPIC_PROFILES = key("topic.profiles").stringType()
            .defaultValue("user-profiles").withDescription("Input: Avro `UserProfile`s, keyed by user id (compacted); "
                    + "a user's latest profile applies to their events from its arrival on. Empty: none.");
    public static final ConfigOption<String> TOPIC_MODEL_UPDATES = key("topic.model-updates").stringType()
            .defaultValue("model-updates").withDescription("Input: Avro `ModelUpdate`s, the model versions to serve "
                    + "(`deploy/local/model.sh publish`); read from the latest on a job's first start. Empty: none.");
    public static final ConfigOption<String> TOPIC_MODEL_EVENTS = key("topic.model-events").stringType()
            .defaultValue("model-events").withDescription("Output: Avro `ModelEvent`s, what each subtask did with a "
                    + "model version (loaded, rejected with the reason, active).");
    public static final ConfigOption<String> GROUP_ID = key("kafka.group-id").stringType()
            .defaultValue("context-inference")
            .withDescription("Consumer group (offsets committed on checkpoints); also the transactional id prefix.");
    public static final ConfigOption<Delivery> DELIVERY = key("delivery").enumType(Delivery.class)
            .defaultValue(Delivery.EXACTLY_ONCE)
            .withDescription("`exactly-once` (Kafka transactions, predictions visible when a checkpoint completes) or "
                    + "`at-least-once` (low latency: visible at once, duplicates possible after a failure).");
    public static final ConfigOption<Duration> TRANSACTION_TIMEOUT = key("kafka.transaction-timeout").durationType()
            .defaultValue(Duration.ofMinutes(10))
            .withDescription("Must exceed the checkpoint interval and stay below the broker's "
                    + "`transaction.max.timeout.ms` (15 min by default).");
    public static final ConfigOption<Duration> KAFKA_LINGER = key("kafka.linger").durationType()
            .defaultValue(Duration.ofMillis(20))
            .withDescription("How long the producer waits to fill a batch; 0 sends at once (see deploy/bench/RESULTS.md "
                    + "for what that costs).");
    public static final ConfigOption<Duration> CHECKPOINT_INTERVAL = key("checkpoint.interval").durationType()
            .defaultValue(Duration.ofSeconds(10))
            .withDescription("In exactly-once mode predictions become visible when a checkpoint completes.");
    public static final ConfigOption<String> CHECKPOINT_DIR = key("checkpoint.dir").stringType().noDefaultValue()
            .withDescription("E.g. `s3://flink/checkpoints`. Default: the cluster's `execution.checkpointing.dir`.");
    public static final ConfigOption<Duration> STATE_TTL = key("state.ttl").durationType()
            .defaultValue(Duration.ofDays(7))
            .withDescription("A user's context is dropped this long after their last event (up to one checkpoint "
                    + "interval later for cached users).");
    public static final ConfigOption<Integer> CACHED_USERS = key("state.cached-users").intType().defaultValue(200_000)
            .withDescription("Per subtask, how many recently active users' contexts stay on the heap (~395 B each) in "
                    + "front of RocksDB; written to RocksDB when evicted and before every checkpoint barrier, on the "
                    + "task thread. 0: none.");
    public static final ConfigOption<Duration> BUFFER_TIMEOUT = key("buffer-timeout").durationType()
            .defaultValue(Duration.ofMillis(50)).withDescription("Network buffer flush interval.");
    public static final ConfigOption<MemorySize> ROCKSDB_WRITE_BUFFER_SIZE = key("rocksdb.write-buffer-size")
            .memoryType().defaultValue(MemorySize.ofMebiBytes(64))
            .withDescription("RocksDB memtable size. Every checkpoint flushes the open memtables on the task thread: "
                    + "small ones stall it less but cost throughput.");

    /** Options whose default follows {@link #DELIVERY}: the low-latency mode trades throughput for shorter stalls. */
    public static final List<ModeDefault<?>> MODE_DEFAULTS = List.of(
            new ModeDefault<>(KAFKA_LINGER, Duration.ofMillis(2)),
            new ModeDefault<>(CACHED_USERS, 0),
            new ModeDefault<>(BUFFER_TIMEOUT, Duration.ofMillis(1)),
            new ModeDefault<>(ROCKSDB_WRITE_BUFFER_SIZE, MemorySize.ofMebiBytes(4)),
            new ModeDefault<>(InferenceOptions.SHED_LOAD, true));

    /** Every option the job reads, in the order the README lists them. */
    public static final List<ConfigOption<?>> ALL = all();

    private ContextInferenceOptions() {}

    private static List<ConfigOption<?>> all() {
        List<ConfigOption<?>> all = new ArrayList<>(List.of(BOOTSTRAP_SERVERS));
        all.addAll(KafkaAccess.OPTIONS);
        all.addAll(List.of(TOPIC_EVENTS, TOPIC_PREDICTIONS, TOPIC_DEAD_LETTERS, TOPIC_PROFILES, TOPIC_MODEL_UPDATES,
                TOPIC_MODEL_EVENTS, GROUP_ID, DELIVERY, TRANSACTION_TIMEOUT, KAFKA_LINGER, CHECKPOINT_INTERVAL,
                CHECKPOINT_DIR, STATE_TTL, CACHED_USERS, BUFFER_TIMEOUT, ROCKSDB_WRITE_BUFFER_SIZE));
        all.addAll(InferenceOptions.ALL);
        return List.copyOf(all);
    }

    /** The README's settings table: key, default, meaning. */
    public static String markdownTable() {
        Map<String, ModeDefault<?>> byKey = new HashMap<>();
        MODE_DEFAULTS.forEach(m -> byKey.put(m.option().key(), m));
        StringBuilder table = new StringBuilder("| key | default | meaning |\n|---|---|---|\n");
        for (ConfigOption<?> option : ALL) {
            ModeDefault<?> mode = byKey.get(option.key());
            String defaultText;
            if (mode != null) {
                defaultText = "`" + Settings.format(option.defaultValue()) + "` (exactly-once), `"
                        + Settings.format(mode.atLeastOnce()) + "` (at-least-once)";
            } else {
                defaultText = option.hasDefaultValue()
                        ? "`" + Settings.format(option.defaultValue()) + "`" : "";
            }
            table.append("| `").append(option.key()).append("` | ").append(defaultText).append(" | ")
                    .append(Settings.describe(option)).append(" |\n");
        }
        return table.toString();
    }
}
