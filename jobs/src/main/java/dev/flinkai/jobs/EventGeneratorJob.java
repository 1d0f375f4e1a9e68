package dev.flinkai.jobs;

import dev.flinkai.jobs.kafka.KafkaAccess;
import dev.flinkai.jobs.kafka.KafkaIo;
import dev.flinkai.operators.config.Settings;
import dev.flinkai.operators.simulation.UserBehaviourSimulator;
import dev.flinkai.schemas.UserEvent;
import dev.flinkai.schemas.UserProfile;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.ParameterTool;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.apache.flink.configuration.ConfigOptions.key;

/**
 * Feeds the user-events topic with simulated assistant users at a chosen rate: Zipf-skewed popularity, each user
 * following a hidden persona (see {@link UserBehaviourSimulator}), so the model has something real to learn. With
 * profiles on, it also writes every user's profile once to the user-profiles topic, at its own rate from the start:
 * some users' first events come before their profile, as in a real system.
 *
 * <pre>
 * flink run -c dev.flinkai.jobs.EventGeneratorJob flink-ai-jobs.jar --rate 1000 --users 100000 [--count N] [--run-id ID]
 *   [--fault latency-spike|error-burst|traffic-drop --fault.feature chat --fault.start 5min --fault.duration 5min]
 * </pre>
 * The fault ({@link GeneratorFault}) shows the monitoring something to notice.
 */
public final class EventGeneratorJob {

    public static final ConfigOption<Double> RATE = key("rate").doubleType().defaultValue(1000.0)
            .withDescription("Events per second, all subtasks together.");
    public static final ConfigOption<Integer> USERS = key("users").intType().defaultValue(100_000)
            .withDescription("Simulated users.");
    public static final ConfigOption<Long> COUNT = key("count").longType().defaultValue(Long.MAX_VALUE)
            .withDescription("Events to write before the job finishes.");
    public static final ConfigOption<Double> ZIPF = key("zipf").doubleType().defaultValue(0.8)
            .withDescription("Skew of user popularity: 0 uniform, ~1 web-like.");
    public static final ConfigOption<Long> SEED = key("seed").longType().defaultValue(1L)
            .withDescription("Seed of the simulation.");
    public static final ConfigOption<String> RUN_ID = key("run-id").stringType().noDefaultValue()
            .withDescription("Prefix of the event ids. Default: the submission time in base 36.");
    public static final ConfigOption<Boolean> PROFILES = key("profiles").booleanType().defaultValue(true)
            .withDescription("Write each user's profile once to topic.profiles.");
    public static final ConfigOption<Double> PROFILE_RATE = key("profile-rate").doubleType().defaultValue(5000.0)
            .withDescription("Profiles per second, all subtasks together.");
    static final List<ConfigOption<?>> ALL = all();

    private EventGeneratorJob() {}

    /** The generator's settings, checked: unknown keys and bad values fail naming the key. */
    static Settings settings(String[] args, ReadableConfig cluster) {
        return settings(args, cluster, System.getenv());
    }

    /** As {@link #settings(String[], ReadableConfig)}, with {@code environment} in place of the process's variables. */
    public static Settings settings(String[] args, ReadableConfig cluster, Map<String, String> environment) {
        Settings s = Settings.of(args, ALL, cluster, Set.of(KafkaAccess.SASL_PASSWORD.key()));
        kafka(s, environment);
        for (ConfigOption<Double> option : List.of(RATE, PROFILE_RATE)) {
            double rate = s.get(option);
            if (!(rate >= 0.001 && rate <= 1e9)) {
                throw Settings.invalid(option, rate, "must be between 0.001 and 1e9");
            }
        }
        s.atLeast(USERS, 1);
        s.atLeast(COUNT, 1);
        s.atLeast(SEED, 0);
        double zipf = s.get(ZIPF);
        if (!(zipf >= 0 && zipf <= 5)) {
            throw Settings.invalid(ZIPF, zipf, "must be between 0 and 5");
        }
        GeneratorFault.from(s, 0);
        return s;
    }

    private static KafkaAccess kafka(Settings s, Map<String, String> environment) {
        return KafkaAccess.read(s, s.get(ContextInferenceOptions.BOOTSTRAP_SERVERS), environment);
    }

    private static List<ConfigOption<?>> all() {
        List<ConfigOption<?>> all = new ArrayList<>(List.of(ContextInferenceOptions.BOOTSTRAP_SERVERS));
        all.addAll(KafkaAccess.OPTIONS);
        all.addAll(List.of(ContextInferenceOptions.TOPIC_EVENTS, ContextInferenceOptions.TOPIC_PROFILES, RATE, USERS,
                COUNT, ZIPF, SEED, RUN_ID, PROFILES, PROFILE_RATE));
        all.addAll(GeneratorFault.OPTIONS);
        return List.copyOf(all);
    }

    public static void main(String[] args) throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        Settings s = settings(args, env.getConfiguration());
        KafkaAccess kafka = kafka(s, System.getenv());
        int users = s.get(USERS);
        // Event ids are <run id>-<sequence number>: unique across submissions, stable across failovers (the
        // source's sequence position is checkpointed, so a replayed event keeps its id).
        long submittedMillis = System.currentTimeMillis();
        String runId = s.get(RUN_ID, Long.toString(submittedMillis, 36));
        env.getConfig().setGlobalJobParameters(ParameterTool.fromMap(s.effective()));
        env.enableCheckpointing(Duration.ofSeconds(10).toMillis());
        if (users < env.getParallelism()) {
            env.setParallelism(users);
        }
        DataGeneratorSource<UserEvent> source = new DataGeneratorSource<>(
                new SimulatedUsers(runId, s.get(SEED), users, s.get(ZIPF), GeneratorFault.from(s, submittedMillis)),
                s.get(COUNT),
                RateLimiterStrategy.perSecond(s.get(RATE)), new AvroTypeInfo<>(UserEvent.class));
        PipelineOperator.GENERATOR_SINK.on(PipelineOperator.GENERATOR_SOURCE
                .on(env.fromSource(source, WatermarkStrategy.noWatermarks(), PipelineOperator.GENERATOR_SOURCE.displayName))
                .sinkTo(KafkaIo.avroSink(kafka, s.get(ContextInferenceOptions.TOPIC_EVENTS), UserEvent.class,
                        e -> e.getUserId().getBytes(StandardCharsets.UTF_8), DeliveryGuarantee.AT_LEAST_ONCE,
                        "event-generator", Duration.ofMinutes(10), Duration.ofMillis(5)))); // linger: Kafka's default
        String profilesTopic = s.get(ContextInferenceOptions.TOPIC_PROFILES);
        if (s.get(PROFILES) && !profilesTopic.isBlank()) {
            long now = System.currentTimeMillis();
            DataGeneratorSource<UserProfile> profiles = new DataGeneratorSource<>(
                    index -> UserBehaviourSimulator.profileOf(UserBehaviourSimulator.userId(index), now), users,
                    RateLimiterStrategy.perSecond(s.get(PROFILE_RATE)), new AvroTypeInfo<>(UserProfile.class));
            PipelineOperator.GENERATOR_PROFILES_SINK.on(PipelineOperator.GENERATOR_PROFILES.on(env.fromSource(profiles,
                            WatermarkStrategy.noWatermarks(), PipelineOperator.GENERATOR_PROFILES.displayName))
                    .sinkTo(KafkaIo.avroSink(kafka, profilesTopic,
                            UserProfile.class, p -> p.getUserId().getBytes(StandardCharsets.UTF_8),
                            DeliveryGuarantee.AT_LEAST_ONCE, "event-generator-profiles", Duration.ofMinutes(10),
                            Duration.ofMillis(5))));
        }
        env.execute("event-generator");
    }

    /** One simulator per parallel reader, each owning its own share of the users, with the fault played in. */
    static final class SimulatedUsers implements GeneratorFunction<Long, UserEvent> {
        private final String runId;
        private final long seed;
        private final int users;
        private final double zipf;
        private final GeneratorFault fault;
        private transient UserBehaviourSimulator simulator;

        SimulatedUsers(String runId, long seed, int users, double zipf, GeneratorFault fault) {
            this.runId = runId;
            this.seed = seed;
            this.users = users;
            this.zipf = zipf;
            this.fault = fault;
        }

        @Override
        public void open(SourceReaderContext context) {
            simulator = new UserBehaviourSimulator(seed, users, zipf, context.getIndexOfSubtask(), context.currentParallelism());
        }

        @Override
        public UserEvent map(Long index) {
            String eventId = runId + "-" + index;
            return fault.next(() -> simulator.next(eventId, System.currentTimeMillis()));
        }
    }
}
