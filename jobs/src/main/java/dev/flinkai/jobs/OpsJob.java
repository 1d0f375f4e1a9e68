package dev.flinkai.jobs;

import dev.flinkai.jobs.kafka.KafkaIo;
import dev.flinkai.jobs.kafka.SkippingAvroDeserializer;
import dev.flinkai.operators.detectors.DetectorFunction;
import dev.flinkai.operators.detectors.LateRecordCounter;
import dev.flinkai.operators.detectors.WindowStats;
import dev.flinkai.operators.detectors.WindowStatsStage;
import dev.flinkai.operators.ingest.ReceivedRecord;
import dev.flinkai.operators.ingest.UserEventDeserializer;
import dev.flinkai.schemas.Alert;
import dev.flinkai.schemas.DeadLetter;
import dev.flinkai.schemas.Prediction;
import dev.flinkai.schemas.UserEvent;

import org.apache.flink.api.common.eventtime.SerializableTimestampAssigner;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExternalizedCheckpointRetention;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.KafkaSourceBuilder;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.ParameterTool;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;

import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * The ops job: watches what users and the main job see. From {@code user-events}, {@code predictions} and
 * {@code dead-letters}, per event-time window and per assistant feature and model version: throughput, the latency
 * users saw, the pipeline's latency, task error, fallback and dead-letter rates ({@link WindowStatsStage}); then
 * threshold, anomaly, trend and regression detectors with escalation and resolution ({@link DetectorFunction}) write
 * {@link Alert}s to the {@code alerts} topic.
 *
 * <pre>
 * flink run -c dev.flinkai.jobs.OpsJob flink-ai-jobs.jar --kafka.bootstrap-servers 127.0.0.1:9092 \
 *     [--window.size 1min] [--detectors.limits latencyP99=1000,errorRate=0.001] ...
 * </pre>
 * See {@link OpsSettings} for every setting and its default.
 */
public final class OpsJob {

    public static final String JOB_NAME = "ops";
    /** uids of the sources, the detectors and the sink: stable, so a savepoint restores their state. */
    public static final String EVENTS_SOURCE_UID = "ops-events-source";
    public static final String PREDICTIONS_SOURCE_UID = "ops-predictions-source";
    public static final String DEAD_LETTERS_SOURCE_UID = "ops-dead-letters-source";
    public static final String DETECTORS_UID = "ops-detectors";
    public static final String ALERTS_SINK_UID = "ops-alerts-sink";
    public static final String LATE_RECORDS_UID = "ops-late-records";

    private OpsJob() {}

    public static void main(String[] args) throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        OpsSettings settings = OpsSettings.from(args, env.getConfiguration());
        configure(env, settings);
        buildPipeline(kafkaInputs(env, settings), alertSink(settings), settings);
        env.execute(JOB_NAME);
    }

    /** What the job watches, each stream with event-time timestamps and watermarks. */
    public record Inputs(DataStream<UserEvent> events, DataStream<Prediction> predictions,
                         DataStream<DeadLetter> deadLetters) {}

    /** RocksDB with incremental checkpoints, checkpointing, and the settings shown in the web UI. */
    public static void configure(StreamExecutionEnvironment env, OpsSettings settings) {
        Configuration conf = new Configuration();
        conf.set(StateBackendOptions.STATE_BACKEND, "rocksdb");
        conf.set(CheckpointingOptions.INCREMENTAL_CHECKPOINTS, true);
        conf.set(CheckpointingOptions.EXTERNALIZED_CHECKPOINT_RETENTION,
                ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION);
        if (settings.checkpointDir != null) {
            conf.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, settings.checkpointDir);
        }
        env.configure(conf);
        env.enableCheckpointing(settings.checkpointInterval.toMillis());
        env.getConfig().setGlobalJobParameters(ParameterTool.fromMap(settings.shown));
    }

    /**
     * The three topics from the group's committed offsets (the earliest on a first start). Events that the main job
     * could not use are dropped here: they are counted from the dead letters it wrote for them.
     */
    public static Inputs kafkaInputs(StreamExecutionEnvironment env, OpsSettings settings) {
        DataStream<UserEvent> events = env.fromSource(
                        source(settings, settings.eventsTopic, new UserEventDeserializer()),
                        watermarks(settings, (ReceivedRecord r, long kafkaTime) ->
                                r.isValid() ? r.event.getEventTimeMillis() : kafkaTime), "User events")
                .uid(EVENTS_SOURCE_UID)
                .filter(ReceivedRecord::isValid).name("Valid events")
                .map(r -> r.event, new AvroTypeInfo<>(UserEvent.class)).name("Events");
        DataStream<Prediction> predictions = env.fromSource(
                        source(settings, settings.predictionsTopic, new SkippingAvroDeserializer<>(Prediction.class)),
                        watermarks(settings, (Prediction p, long kafkaTime) -> p.getEventTimeMillis()), "Predictions")
                .uid(PREDICTIONS_SOURCE_UID);
        DataStream<DeadLetter> deadLetters = env.fromSource(
                        source(settings, settings.deadLettersTopic, new SkippingAvroDeserializer<>(DeadLetter.class)),
                        watermarks(settings, (DeadLetter d, long kafkaTime) -> d.getFailedAtMillis()), "Dead letters")
                .uid(DEAD_LETTERS_SOURCE_UID);
        return new Inputs(events, predictions, deadLetters);
    }

    private static <T> KafkaSource<T> source(
            OpsSettings settings, String topic, KafkaRecordDeserializationSchema<T> deserializer) {
        KafkaSourceBuilder<T> builder = KafkaIo.sourceBuilder(settings.kafka, topic, settings.groupId, deserializer,
                OffsetsInitializer.committedOffsets(OffsetResetStrategy.EARLIEST));
        if (settings.bounded) {
            builder.setBounded(OffsetsInitializer.latest());
        }
        return builder.build();
    }

    /** Bounded out-of-orderness (the lateness allowed), and idle partitions hold nothing back. */
    private static <T> WatermarkStrategy<T> watermarks(OpsSettings settings, SerializableTimestampAssigner<T> time) {
        return WatermarkStrategy.<T>forBoundedOutOfOrderness(settings.outOfOrderness)
                .withTimestampAssigner(time)
                .withIdleness(settings.idleTimeout);
    }

    /** Alerts keyed by their condition, so one condition's records stay in order on one partition. */
    public static Sink<Alert> alertSink(OpsSettings settings) {
        return KafkaIo.avroSink(settings.kafka, settings.alertsTopic, Alert.class,
                a -> a.getKey().getBytes(StandardCharsets.UTF_8), settings.delivery, settings.groupId + "-alerts",
                settings.transactionTimeout, Duration.ofMillis(20));
    }

    /** Wires the job between any inputs and alert sink, so tests can run it on their own. */
    public static void buildPipeline(Inputs inputs, Sink<Alert> alerts, OpsSettings settings) {
        WindowStatsStage.Statistics statistics = WindowStatsStage.apply(inputs.events(), inputs.predictions(),
                inputs.deadLetters(), settings.window, settings.predictionWait);
        statistics.late().sinkTo(new LateRecordCounter()).uid(LATE_RECORDS_UID).name("Count late records");
        statistics.windows()
                .keyBy(WindowStats::feature)
                .process(new DetectorFunction(settings.detectors), new AvroTypeInfo<>(Alert.class))
                .uid(DETECTORS_UID).name("Detect thresholds, anomalies, trends and regressions")
                .sinkTo(alerts).uid(ALERTS_SINK_UID).name("Alerts to Kafka");
    }
}
