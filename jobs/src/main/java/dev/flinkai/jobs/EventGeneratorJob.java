package dev.flinkai.jobs;

import dev.flinkai.jobs.kafka.KafkaAccess;
import dev.flinkai.jobs.kafka.KafkaIo;
import dev.flinkai.operators.config.Settings;
import dev.flinkai.operators.simulation.UserBehaviourSimulator;
import dev.flinkai.schemas.UserEvent;
import dev.flinkai.schemas.UserProfile;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.core.execution.CheckpointingMode;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.ParameterTool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
 *   [--checkpoint.interval 2s]
 *   [--fault latency-spike|error-burst|traffic-drop --fault.feature chat --fault.start 5min --fault.duration 5min]
 * </pre>
 * The fault ({@link GeneratorFault}) shows the monitoring something to notice.
 *
 * <p>Each event id is written once: the events go out in Kafka transactions committed with the checkpoints, which hold
 * the source's position and the simulators' state, so a restarted generator writes nothing twice for read_committed
 * readers (and goes on with the users as if it had not failed).
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
    public static final ConfigOption<Duration> CHECKPOINT_INTERVAL = key("checkpoint.interval").durationType()
            .defaultValue(Duration.ofSeconds(2))
            .withDescription("Events become visible to read_committed readers when a checkpoint completes.");
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
        s.positive(CHECKPOINT_INTERVAL);
        GeneratorFault.from(s, 0);
        return s;
    }

    static KafkaAccess kafka(Settings s, Map<String, String> environment) {
        return KafkaAccess.read(s, s.get(ContextInferenceOptions.BOOTSTRAP_SERVERS), environment);
    }

    private static List<ConfigOption<?>> all() {
        List<ConfigOption<?>> all = new ArrayList<>(List.of(ContextInferenceOptions.BOOTSTRAP_SERVERS));
        all.addAll(KafkaAccess.OPTIONS);
        all.addAll(List.of(ContextInferenceOptions.TOPIC_EVENTS, ContextInferenceOptions.TOPIC_PROFILES, RATE, USERS,
                COUNT, ZIPF, SEED, RUN_ID, PROFILES, PROFILE_RATE, CHECKPOINT_INTERVAL));
        all.addAll(GeneratorFault.OPTIONS);
        return List.copyOf(all);
    }

    public static void main(String[] args) throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        Settings s = settings(args, env.getConfiguration());
        KafkaAccess kafka = kafka(s, System.getenv());
        long submittedMillis = System.currentTimeMillis();
        // Event ids are <run id>-<sequence number>: unique across submissions.
        String runId = s.get(RUN_ID, Long.toString(submittedMillis, 36));
        configure(env, s);
        PipelineOperator.GENERATOR_SINK.on(simulatedEvents(env, s, runId, submittedMillis).sinkTo(eventSink(kafka, s)));
        String profilesTopic = s.get(ContextInferenceOptions.TOPIC_PROFILES);
        if (s.get(PROFILES) && !profilesTopic.isBlank()) {
            long now = System.currentTimeMillis();
            // A profile is a function of the user id and the submission: a replay writes the same record again, and
            // the compacted topic keeps one per user.
            DataGeneratorSource<UserProfile> profiles = new DataGeneratorSource<>(
                    index -> UserBehaviourSimulator.profileOf(UserBehaviourSimulator.userId(index), now), s.get(USERS),
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

    /** Exactly-once checkpoints every {@code checkpoint.interval}; no more subtasks than users. */
    static void configure(StreamExecutionEnvironment env, Settings s) {
        env.getConfig().setGlobalJobParameters(ParameterTool.fromMap(s.effective()));
        env.enableCheckpointing(s.get(CHECKPOINT_INTERVAL).toMillis(), CheckpointingMode.EXACTLY_ONCE);
        if (s.get(USERS) < env.getParallelism()) {
            env.setParallelism(s.get(USERS));
        }
    }

    /**
     * The simulated events: sequence numbers from a rate-limited source (its position is checkpointed), each turned
     * into the next event of its subtask's simulator (whose state is checkpointed with it). Restored from a checkpoint,
     * both go on where they were, so the events after it are those a failure-free run would have drawn (apart from
     * their event time, the wall clock).
     */
    static SingleOutputStreamOperator<UserEvent> simulatedEvents(StreamExecutionEnvironment env, Settings s,
                                                                  String runId, long submittedMillis) {
        DataGeneratorSource<Long> sequence = new DataGeneratorSource<>(index -> index, s.get(COUNT),
                RateLimiterStrategy.perSecond(s.get(RATE)), Types.LONG);
        return PipelineOperator.GENERATOR_USERS.on(PipelineOperator.GENERATOR_SOURCE
                .on(env.fromSource(sequence, WatermarkStrategy.noWatermarks(), PipelineOperator.GENERATOR_SOURCE.displayName))
                .map(new SimulatedUsers(runId, s.get(SEED), s.get(USERS), s.get(ZIPF),
                        GeneratorFault.from(s, submittedMillis)), new AvroTypeInfo<>(UserEvent.class)));
    }

    /**
     * Exactly-once: the events a failed attempt wrote after its last checkpoint are aborted, and read_committed readers
     * see each event id once. Transactional ids are named after the topic, so a generator started again on the same
     * topic aborts what a crashed one left open, and generators on other topics never fence each other.
     */
    static Sink<UserEvent> eventSink(KafkaAccess kafka, Settings s) {
        String topic = s.get(ContextInferenceOptions.TOPIC_EVENTS);
        return KafkaIo.avroSink(kafka, topic, UserEvent.class, e -> e.getUserId().getBytes(StandardCharsets.UTF_8),
                DeliveryGuarantee.EXACTLY_ONCE, "event-generator-" + topic, Duration.ofMinutes(10),
                Duration.ofMillis(5)); // linger: Kafka's default
    }

    /**
     * One simulator per subtask, each owning its own share of the users, with the fault played in. Its state is
     * checkpointed; restored at another parallelism, each subtask takes over its new share of the users where they
     * were.
     */
    static final class SimulatedUsers extends RichMapFunction<Long, UserEvent> implements CheckpointedFunction {
        private static final Logger LOG = LoggerFactory.getLogger(SimulatedUsers.class);

        private final String runId;
        private final long seed;
        private final int users;
        private final double zipf;
        private final GeneratorFault fault;
        private transient UserBehaviourSimulator simulator;
        private transient ListState<byte[]> state;
        private transient List<byte[]> restored;

        SimulatedUsers(String runId, long seed, int users, double zipf, GeneratorFault fault) {
            this.runId = runId;
            this.seed = seed;
            this.users = users;
            this.zipf = zipf;
            this.fault = fault;
        }

        @Override
        public void initializeState(FunctionInitializationContext context) throws Exception {
            // Union: every subtask gets every simulator's state, so after a rescale each finds its users' wherever
            // they were.
            state = context.getOperatorStateStore().getUnionListState(
                    new ListStateDescriptor<>("simulator", PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO));
            restored = new ArrayList<>();
            state.get().forEach(restored::add);
        }

        @Override
        public void open(OpenContext openContext) {
            int partition = getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
            int partitions = getRuntimeContext().getTaskInfo().getNumberOfParallelSubtasks();
            simulator = new UserBehaviourSimulator(seed, users, zipf, partition, partitions);
            if (!restored.isEmpty()) {
                try {
                    simulator = UserBehaviourSimulator.restore(restored, seed, users, zipf, partition, partitions);
                } catch (IllegalArgumentException e) {
                    LOG.warn("Cannot go on from the simulated users of the restored state (--{} changed?): subtask {} "
                            + "starts its users afresh. {}", USERS.key(), partition, e.getMessage());
                }
            }
        }

        @Override
        public UserEvent map(Long index) {
            String eventId = runId + "-" + index;
            return fault.next(() -> simulator.next(eventId, System.currentTimeMillis()));
        }

        @Override
        public void snapshotState(FunctionSnapshotContext context) throws Exception {
            state.update(List.of(simulator.snapshot()));
        }
    }
}
