package dev.flinkai.jobs;

import dev.flinkai.jobs.kafka.KafkaAccess;
import dev.flinkai.operators.config.Settings;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ReadableConfig;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.apache.flink.configuration.ConfigOptions.key;

/**
 * The settings of {@link KpiJob}, read and checked once at start ({@code --key value} arguments, then the cluster
 * configuration, then the defaults): a bad value, an unknown key or a contradiction fails here, naming the key.
 */
public final class KpiSettings {

    public static final ConfigOption<String> TOPIC_KPIS = key("topic.kpis").stringType().defaultValue("kpis")
            .withDescription("Output: Avro `Kpi`s keyed by Avro `KpiKey` (window start, feature); make it compacted.");
    public static final ConfigOption<String> GROUP_ID = key("kafka.group-id").stringType().defaultValue("kpis")
            .withDescription("Consumer group of the events (offsets committed on checkpoints).");
    public static final ConfigOption<Duration> WINDOW = key("window.size").durationType()
            .defaultValue(Duration.ofHours(1)).withDescription("The KPI window: tumbling, event time, epoch-aligned.");
    public static final ConfigOption<Duration> SESSION_GAP = key("session.gap").durationType()
            .defaultValue(Duration.ofMinutes(30))
            .withDescription("A user's visit to a feature ends after this long without an event on it.");
    public static final ConfigOption<Duration> OUT_OF_ORDERNESS = key("watermark.out-of-orderness").durationType()
            .defaultValue(Duration.ofSeconds(30))
            .withDescription("How late an event may arrive and still count; later ones are dropped.");
    public static final ConfigOption<Duration> IDLE_TIMEOUT = key("source.idle-timeout").durationType()
            .defaultValue(Duration.ofMinutes(1))
            .withDescription("A partition without events for this long holds no window back.");
    public static final ConfigOption<Duration> CHECKPOINT_INTERVAL = key("checkpoint.interval").durationType()
            .defaultValue(Duration.ofSeconds(10))
            .withDescription("Offsets are committed and the upsert sink flushed on checkpoints.");
    public static final ConfigOption<Duration> STATE_TTL = key("state.ttl").durationType()
            .defaultValue(Duration.ofDays(1))
            .withDescription("How long the per-window sums that sessions still update are kept; must exceed the "
                    + "window plus the longest session.");
    public static final ConfigOption<Boolean> BOUNDED = key("bounded").booleanType().defaultValue(false)
            .withDescription("Stop at the events' end offsets at start (a backfill) instead of running on.");

    /** Every option the job reads. */
    public static final List<ConfigOption<?>> ALL = all();

    public final KafkaAccess kafka;
    public final String eventsTopic;
    public final String kpisTopic;
    public final String groupId;
    public final Duration window;
    public final Duration sessionGap;
    public final Duration outOfOrderness;
    public final Duration idleTimeout;
    public final Duration checkpointInterval;
    public final Duration stateTtl;
    public final boolean bounded;
    /** Every setting with its effective value, secrets masked: shown in the web UI. */
    public final Map<String, String> shown;

    private KpiSettings(Settings s, Map<String, String> environment) {
        kafka = KafkaAccess.read(s, s.nonBlank(ContextInferenceOptions.BOOTSTRAP_SERVERS), environment);
        eventsTopic = s.nonBlank(ContextInferenceOptions.TOPIC_EVENTS);
        kpisTopic = s.nonBlank(TOPIC_KPIS);
        groupId = s.nonBlank(GROUP_ID);
        window = wholeMillis(s, WINDOW);
        sessionGap = wholeMillis(s, SESSION_GAP);
        outOfOrderness = s.notNegative(OUT_OF_ORDERNESS, s.get(OUT_OF_ORDERNESS));
        idleTimeout = s.positive(IDLE_TIMEOUT);
        checkpointInterval = s.positive(CHECKPOINT_INTERVAL);
        stateTtl = s.positive(STATE_TTL);
        bounded = s.get(BOUNDED);
        if (Duration.ofDays(1).toMillis() % window.toMillis() != 0) {
            throw Settings.invalid(WINDOW, Settings.format(window), "must divide a day (1 h, 15 min, 1 d, ...) so "
                    + "windows start at the same times every day");
        }
        if (stateTtl.compareTo(window.plus(sessionGap)) <= 0) {
            throw Settings.invalid(STATE_TTL, Settings.format(stateTtl), "must exceed --" + WINDOW.key() + " plus --"
                    + SESSION_GAP.key() + ", or a window's sums expire while its sessions still arrive");
        }
        shown = s.effective();
    }

    /** From {@code --key value} arguments, then {@code cluster} (e.g. the execution environment's configuration). */
    public static KpiSettings from(String[] args, ReadableConfig cluster) {
        return from(args, cluster, System.getenv());
    }

    public static KpiSettings from(String[] args, ReadableConfig cluster, Map<String, String> environment) {
        return new KpiSettings(Settings.of(args, ALL, cluster, Set.of(KafkaAccess.SASL_PASSWORD.key())), environment);
    }

    public static KpiSettings fromArgs(String... args) {
        return from(args, new Configuration());
    }

    private static List<ConfigOption<?>> all() {
        List<ConfigOption<?>> all = new ArrayList<>(List.of(ContextInferenceOptions.BOOTSTRAP_SERVERS));
        all.addAll(KafkaAccess.OPTIONS);
        all.addAll(List.of(ContextInferenceOptions.TOPIC_EVENTS, TOPIC_KPIS, GROUP_ID, WINDOW, SESSION_GAP,
                OUT_OF_ORDERNESS, IDLE_TIMEOUT, CHECKPOINT_INTERVAL, STATE_TTL, BOUNDED));
        return List.copyOf(all);
    }

    private static Duration wholeMillis(Settings s, ConfigOption<Duration> option) {
        Duration value = s.positive(option);
        if (value.toNanos() % 1_000_000 != 0) {
            throw Settings.invalid(option, Settings.format(value), "must be whole milliseconds");
        }
        return value;
    }
}
