package dev.flinkai.jobs;

import dev.flinkai.jobs.ContextInferenceOptions.Delivery;
import dev.flinkai.jobs.kafka.KafkaAccess;
import dev.flinkai.operators.config.Settings;
import dev.flinkai.operators.detectors.DetectorSettings;
import dev.flinkai.operators.detectors.Metric;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.connector.base.DeliveryGuarantee;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.apache.flink.configuration.ConfigOptions.key;

/**
 * The settings of {@link OpsJob}, read and checked once at start ({@code --key value} arguments, then the cluster
 * configuration, then the defaults): a bad value, an unknown key or a contradiction fails here, naming the key.
 */
public final class OpsSettings {

    public static final ConfigOption<String> TOPIC_ALERTS = key("topic.alerts").stringType().defaultValue("alerts")
            .withDescription("Output: Avro `Alert`s (FIRING, escalated, RESOLVED), keyed by the alert's condition.");
    public static final ConfigOption<String> GROUP_ID = key("kafka.group-id").stringType().defaultValue("ops")
            .withDescription("Consumer group of the three inputs (offsets committed on checkpoints); also the "
                    + "transactional id prefix of the alerts.");
    public static final ConfigOption<Duration> WINDOW = key("window.size").durationType()
            .defaultValue(Duration.ofMinutes(1))
            .withDescription("The statistics window: tumbling, event time, epoch-aligned.");
    public static final ConfigOption<Duration> PREDICTION_WAIT = key("prediction.wait").durationType()
            .defaultValue(Duration.ofSeconds(30))
            .withDescription("How long (event time) an event waits for its prediction before it counts as unscored; "
                    + "a window is reported this long after its end.");
    public static final ConfigOption<Duration> OUT_OF_ORDERNESS = key("watermark.out-of-orderness").durationType()
            .defaultValue(Duration.ofSeconds(10))
            .withDescription("The lateness allowed: records up to this much out of order change no result; later "
                    + "ones are counted in the metric `opsLateRecords`.");
    public static final ConfigOption<Duration> IDLE_TIMEOUT = key("source.idle-timeout").durationType()
            .defaultValue(Duration.ofMinutes(1))
            .withDescription("A partition without records for this long holds no window back (dead letters are rare).");
    public static final ConfigOption<Duration> CHECKPOINT_INTERVAL = key("checkpoint.interval").durationType()
            .defaultValue(Duration.ofSeconds(10))
            .withDescription("Offsets are committed and, exactly-once, alerts become visible on checkpoints.");
    public static final ConfigOption<String> LIMITS = key("detectors.limits").stringType()
            .defaultValue("latencyP99=1000,errorRate=0.001,fallbackRate=0.05,deadLetterRate=0.01")
            .withDescription("Threshold (and trend) limits, `metric=number` comma-separated, the platform's targets by "
                    + "default; metrics: throughput (a lower limit), latencyP50/95/99 and pipelineP99 (ms), errorRate, "
                    + "fallbackRate, deadLetterRate. Empty: none.");
    public static final ConfigOption<String> ANOMALY_FLOORS = key("detectors.anomaly-floors").stringType()
            .defaultValue("throughput=5,latencyP99=20,errorRate=0.005,fallbackRate=0.01")
            .withDescription("The metrics watched for anomalies against their own last windows, each with the "
                    + "smallest change worth an alert. Empty: none.");
    public static final ConfigOption<Integer> MIN_SAMPLES = key("detectors.min-samples").intType().defaultValue(20)
            .withDescription("Samples a rate or latency needs in a window to be measured (1 failure in 3 tasks is no "
                    + "error rate to act on).");
    public static final ConfigOption<Integer> CRITICAL_AFTER = key("detectors.critical-after").intType()
            .defaultValue(3).withDescription("A FIRING alert escalates from WARNING to CRITICAL after this many "
                    + "windows in a row.");
    public static final ConfigOption<Integer> RESOLVE_AFTER = key("detectors.resolve-after").intType()
            .defaultValue(1).withDescription("A FIRING alert is RESOLVED after this many clear windows in a row.");
    public static final ConfigOption<Boolean> BOUNDED = key("bounded").booleanType().defaultValue(false)
            .withDescription("Stop at the inputs' end offsets at start (a backfill) instead of running on.");

    /** Every option the job reads. */
    public static final List<ConfigOption<?>> ALL = all();

    public final KafkaAccess kafka;
    public final String eventsTopic;
    public final String predictionsTopic;
    public final String deadLettersTopic;
    public final String alertsTopic;
    public final String groupId;
    public final Duration window;
    public final Duration predictionWait;
    public final Duration outOfOrderness;
    public final Duration idleTimeout;
    public final Duration checkpointInterval;
    public final DeliveryGuarantee delivery;
    public final Duration transactionTimeout;
    public final String checkpointDir;
    public final DetectorSettings detectors;
    public final boolean bounded;
    /** Every setting with its effective value, secrets masked: shown in the web UI. */
    public final Map<String, String> shown;

    private OpsSettings(Settings s, Map<String, String> environment) {
        kafka = KafkaAccess.read(s, s.nonBlank(ContextInferenceOptions.BOOTSTRAP_SERVERS), environment);
        eventsTopic = s.nonBlank(ContextInferenceOptions.TOPIC_EVENTS);
        predictionsTopic = s.nonBlank(ContextInferenceOptions.TOPIC_PREDICTIONS);
        deadLettersTopic = s.nonBlank(ContextInferenceOptions.TOPIC_DEAD_LETTERS);
        alertsTopic = s.nonBlank(TOPIC_ALERTS);
        groupId = s.nonBlank(GROUP_ID);
        window = s.positive(WINDOW);
        predictionWait = s.positive(PREDICTION_WAIT);
        outOfOrderness = s.notNegative(OUT_OF_ORDERNESS, s.get(OUT_OF_ORDERNESS));
        idleTimeout = s.positive(IDLE_TIMEOUT);
        checkpointInterval = s.positive(CHECKPOINT_INTERVAL);
        delivery = s.get(ContextInferenceOptions.DELIVERY) == Delivery.EXACTLY_ONCE
                ? DeliveryGuarantee.EXACTLY_ONCE : DeliveryGuarantee.AT_LEAST_ONCE;
        transactionTimeout = s.positive(ContextInferenceOptions.TRANSACTION_TIMEOUT);
        checkpointDir = s.get(ContextInferenceOptions.CHECKPOINT_DIR);
        bounded = s.get(BOUNDED);
        if (window.toMillis() < 1_000 || window.toNanos() % 1_000_000 != 0) {
            throw Settings.invalid(WINDOW, Settings.format(window), "must be whole milliseconds, at least 1 s");
        }
        if (predictionWait.compareTo(window) > 0) {
            throw Settings.invalid(PREDICTION_WAIT, Settings.format(predictionWait), "must not exceed --"
                    + WINDOW.key() + " (" + Settings.format(window) + "): windows would be reported after the next");
        }
        if (transactionTimeout.compareTo(checkpointInterval) <= 0) {
            throw Settings.invalid(ContextInferenceOptions.TRANSACTION_TIMEOUT, Settings.format(transactionTimeout),
                    "must exceed --" + CHECKPOINT_INTERVAL.key());
        }
        detectors = detectors(s);
        shown = s.effective();
    }

    private static DetectorSettings detectors(Settings s) {
        DetectorSettings.Builder b = DetectorSettings.builder();
        String metrics = "each must be metric=number with a metric of "
                + Arrays.stream(Metric.values()).map(m -> m.id).toList();
        try {
            b.limits(s.get(LIMITS));
        } catch (IllegalArgumentException e) {
            throw Settings.invalid(LIMITS, s.get(LIMITS), metrics);
        }
        try {
            b.anomalyFloors(s.get(ANOMALY_FLOORS));
        } catch (IllegalArgumentException e) {
            throw Settings.invalid(ANOMALY_FLOORS, s.get(ANOMALY_FLOORS), metrics);
        }
        return b.minSamples(s.atLeast(MIN_SAMPLES, 1))
                .escalation(s.atLeast(CRITICAL_AFTER, 1), s.atLeast(RESOLVE_AFTER, 1))
                .build();
    }

    /** From {@code --key value} arguments, then {@code cluster} (e.g. the execution environment's configuration). */
    public static OpsSettings from(String[] args, ReadableConfig cluster) {
        return from(args, cluster, System.getenv());
    }

    public static OpsSettings from(String[] args, ReadableConfig cluster, Map<String, String> environment) {
        return new OpsSettings(Settings.of(args, ALL, cluster, Set.of(KafkaAccess.SASL_PASSWORD.key())), environment);
    }

    public static OpsSettings fromArgs(String... args) {
        return from(args, new Configuration());
    }

    private static List<ConfigOption<?>> all() {
        List<ConfigOption<?>> all = new ArrayList<>(List.of(ContextInferenceOptions.BOOTSTRAP_SERVERS));
        all.addAll(KafkaAccess.OPTIONS);
        all.addAll(List.of(ContextInferenceOptions.TOPIC_EVENTS, ContextInferenceOptions.TOPIC_PREDICTIONS,
                ContextInferenceOptions.TOPIC_DEAD_LETTERS, TOPIC_ALERTS, GROUP_ID, WINDOW, PREDICTION_WAIT,
                OUT_OF_ORDERNESS, IDLE_TIMEOUT, CHECKPOINT_INTERVAL, ContextInferenceOptions.DELIVERY,
                ContextInferenceOptions.TRANSACTION_TIMEOUT, ContextInferenceOptions.CHECKPOINT_DIR, LIMITS,
                ANOMALY_FLOORS, MIN_SAMPLES, CRITICAL_AFTER, RESOLVE_AFTER, BOUNDED));
        return List.copyOf(all);
    }
}
