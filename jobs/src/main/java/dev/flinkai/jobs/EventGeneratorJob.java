package dev.flinkai.jobs;

import dev.flinkai.jobs.kafka.KafkaIo;
import dev.flinkai.operators.simulation.UserBehaviourSimulator;
import dev.flinkai.schemas.UserEvent;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.ParameterTool;

import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * Feeds the user-events topic with simulated assistant users at a chosen rate: Zipf-skewed popularity, each user
 * following a hidden persona (see {@link UserBehaviourSimulator}), so the model has something real to learn.
 *
 * <pre>
 * flink run -c dev.flinkai.jobs.EventGeneratorJob flink-ai-jobs.jar --rate 1000 --users 100000 [--count N] [--run-id ID]
 * </pre>
 */
public final class EventGeneratorJob {

    private EventGeneratorJob() {}

    public static void main(String[] args) throws Exception {
        Settings s = new Settings(ParameterTool.fromArgs(args));
        String bootstrapServers = s.string("kafka.bootstrap-servers", "127.0.0.1:9092");
        String topic = s.string("topic.events", "user-events");
        double rate = s.doubleBetween("rate", 1000, 0.001, 1e9);
        int users = s.intAtLeast("users", 100_000, 1);
        long count = s.longAtLeast("count", Long.MAX_VALUE, 1);
        double zipf = s.doubleBetween("zipf", 0.8, 0, 5);
        long seed = s.longAtLeast("seed", 1, 0);
        // Event ids are <run id>-<sequence number>: unique across submissions, stable across failovers (the
        // source's sequence position is checkpointed, so a replayed event keeps its id).
        String runId = s.string("run-id", Long.toString(System.currentTimeMillis(), 36));
        s.rejectUnknownKeys();

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.getConfig().setGlobalJobParameters(s.params());
        env.enableCheckpointing(Duration.ofSeconds(10).toMillis());
        if (users < env.getParallelism()) {
            env.setParallelism(users);
        }
        DataGeneratorSource<UserEvent> source = new DataGeneratorSource<>(
                new SimulatedUsers(runId, seed, users, zipf), count, RateLimiterStrategy.perSecond(rate),
                new AvroTypeInfo<>(UserEvent.class));
        PipelineOperator.GENERATOR_SINK.on(PipelineOperator.GENERATOR_SOURCE
                .on(env.fromSource(source, WatermarkStrategy.noWatermarks(), PipelineOperator.GENERATOR_SOURCE.displayName))
                .sinkTo(KafkaIo.avroSink(bootstrapServers, topic, UserEvent.class,
                        e -> e.getUserId().getBytes(StandardCharsets.UTF_8), DeliveryGuarantee.AT_LEAST_ONCE,
                        "event-generator", Duration.ofMinutes(10), Duration.ofMillis(5)))); // linger: Kafka's default
        env.execute("event-generator");
    }

    /** One simulator per parallel reader, each owning its own share of the users. */
    static final class SimulatedUsers implements GeneratorFunction<Long, UserEvent> {
        private final String runId;
        private final long seed;
        private final int users;
        private final double zipf;
        private transient UserBehaviourSimulator simulator;

        SimulatedUsers(String runId, long seed, int users, double zipf) {
            this.runId = runId;
            this.seed = seed;
            this.users = users;
            this.zipf = zipf;
        }

        @Override
        public void open(SourceReaderContext context) {
            simulator = new UserBehaviourSimulator(seed, users, zipf, context.getIndexOfSubtask(), context.currentParallelism());
        }

        @Override
        public UserEvent map(Long index) {
            return simulator.next(runId + "-" + index, System.currentTimeMillis());
        }
    }
}
