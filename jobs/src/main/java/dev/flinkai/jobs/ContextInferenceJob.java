package dev.flinkai.jobs;

import dev.flinkai.jobs.kafka.KafkaIo;
import dev.flinkai.operators.context.UserContextOperator;
import dev.flinkai.operators.features.FeatureExtractor;
import dev.flinkai.operators.features.ScoringRequest;
import dev.flinkai.operators.inference.BatchingInferenceFunction;
import dev.flinkai.operators.inference.ModelClientFactory;
import dev.flinkai.operators.inference.ModelClients;
import dev.flinkai.operators.inference.ModelMetadata;
import dev.flinkai.operators.inference.djl.ModelArtifacts;
import dev.flinkai.operators.ingest.DeadLetterRouter;
import dev.flinkai.operators.ingest.ReceivedRecord;
import dev.flinkai.schemas.DeadLetter;
import dev.flinkai.schemas.Prediction;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExternalizedCheckpointRetention;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.core.execution.CheckpointingMode;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.state.rocksdb.RocksDBConfigurableOptions;
import org.apache.flink.state.rocksdb.RocksDBOptions;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.ParameterTool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

/**
 * The main job: user events from Kafka -> per-user context in RocksDB -> features -> async micro-batched model
 * inference -> predictions to Kafka. Records that cannot be decoded or are invalid go to the dead-letter topic.
 *
 * <pre>
 * flink run -c dev.flinkai.jobs.ContextInferenceJob flink-ai-jobs.jar \
 *     --kafka.bootstrap-servers 127.0.0.1:9092 --model.uri s3://models/next-event/next_event_mlp.pt \
 *     --s3.endpoint http://127.0.0.1:9000 [--delivery exactly-once|at-least-once] ...
 * </pre>
 * See {@link ContextInferenceOptions} for every setting and its default.
 */
public final class ContextInferenceJob {
    private static final Logger LOG = LoggerFactory.getLogger(ContextInferenceJob.class);

    private ContextInferenceJob() {}

    public static void main(String[] args) throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        ContextInferenceSettings settings = ContextInferenceSettings.from(args, env.getConfiguration());
        refuseAModelThatDoesNotFit(settings);
        configure(env, settings);
        buildPipeline(kafkaInput(env, settings), predictionSink(settings), deadLetterSink(settings), settings);
        env.execute("context-inference");
    }

    /**
     * Fails the submission when the model's metadata names another feature count than the job's features have. The
     * inference operator checks it again when it opens; a model that cannot be read now is left to that check.
     */
    static void refuseAModelThatDoesNotFit(ContextInferenceSettings settings) {
        String checked = settings.modelSettings().remote() ? settings.fallbackUri : settings.modelUri;
        if (checked == null) {
            return; // a remote model without fallback: its endpoint's metadata is checked when the operator opens
        }
        ModelMetadata model;
        try {
            model = ModelArtifacts.fetchMetadata(checked, settings.modelSettings().s3Access());
        } catch (Exception e) {
            LOG.warn("Cannot read the metadata of {} now ({}); the inference operator checks it when it opens",
                    checked, e.toString());
            return;
        }
        BatchingInferenceFunction.requireFits(model, FeatureExtractor.FEATURE_COUNT, FeatureExtractor.layout());
    }

    /** Checkpointing, RocksDB with incremental checkpoints, and the settings shown in the web UI. */
    public static StreamExecutionEnvironment createEnvironment(ContextInferenceSettings settings) {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        configure(env, settings);
        return env;
    }

    public static void configure(StreamExecutionEnvironment env, ContextInferenceSettings settings) {
        Configuration conf = new Configuration();
        conf.set(StateBackendOptions.STATE_BACKEND, "rocksdb");
        conf.set(CheckpointingOptions.INCREMENTAL_CHECKPOINTS, true);
        // Every event is a point lookup of one user's context: a bloom filter saves reading SST blocks of files
        // that do not hold the user.
        conf.set(RocksDBConfigurableOptions.USE_BLOOM_FILTER, true);
        conf.set(RocksDBConfigurableOptions.WRITE_BUFFER_SIZE, settings.rocksDbWriteBufferSize);
        conf.set(RocksDBOptions.OPTIONS_FACTORY, PointLookupRocksDbOptions.class.getName());
        // A cancelled job can be resumed from its last checkpoint, like from a savepoint.
        conf.set(CheckpointingOptions.EXTERNALIZED_CHECKPOINT_RETENTION, ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION);
        if (settings.checkpointDir != null) {
            conf.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, settings.checkpointDir);
        }
        env.configure(conf);
        env.enableCheckpointing(settings.checkpointInterval.toMillis(),
                settings.exactlyOnce() ? CheckpointingMode.EXACTLY_ONCE : CheckpointingMode.AT_LEAST_ONCE);
        // The first checkpoint is triggered between the minimum pause and the interval after the job is scheduled: with
        // half the interval the tasks have loaded their model by then (a trigger before fails and shows as failed).
        env.getCheckpointConfig().setMinPauseBetweenCheckpoints(settings.checkpointInterval.toMillis() / 2);
        env.setBufferTimeout(settings.bufferTimeout.toMillis());
        // Safe here: no function keeps or mutates a record after emitting it (state holds its own copies), so
        // chained operators can hand records over without a defensive copy.
        env.getConfig().enableObjectReuse();
        env.getConfig().setGlobalJobParameters(ParameterTool.fromMap(settings.shown));
    }

    /** The Kafka source with event-time watermarks; idle partitions do not hold watermarks back. */
    public static DataStream<ReceivedRecord> kafkaInput(StreamExecutionEnvironment env, ContextInferenceSettings settings) {
        WatermarkStrategy<ReceivedRecord> watermarks = WatermarkStrategy
                .<ReceivedRecord>forBoundedOutOfOrderness(Duration.ofSeconds(5))
                .withTimestampAssigner((record, kafkaTimestamp) ->
                        record.isValid() ? record.event.getEventTimeMillis() : kafkaTimestamp)
                .withIdleness(Duration.ofSeconds(30));
        return PipelineOperator.EVENTS_SOURCE.on(env.fromSource(
                KafkaIo.userEventSource(settings.bootstrapServers, settings.eventsTopic, settings.groupId),
                watermarks, PipelineOperator.EVENTS_SOURCE.displayName));
    }

    public static Sink<Prediction> predictionSink(ContextInferenceSettings settings) {
        return KafkaIo.avroSink(settings.bootstrapServers, settings.predictionsTopic, Prediction.class,
                p -> p.getUserId().getBytes(StandardCharsets.UTF_8), settings.delivery,
                settings.groupId + "-predictions", settings.transactionTimeout, settings.producerLinger);
    }

    public static Sink<DeadLetter> deadLetterSink(ContextInferenceSettings settings) {
        return KafkaIo.avroSink(settings.bootstrapServers, settings.deadLettersTopic, DeadLetter.class,
                d -> (d.getSourceTopic() + "-" + d.getSourcePartition()).getBytes(StandardCharsets.UTF_8),
                settings.delivery, settings.groupId + "-dead-letters", settings.transactionTimeout, settings.producerLinger);
    }

    /** Wires the job between any record source and sinks, so tests can run it on their own inputs and outputs. */
    public static void buildPipeline(DataStream<ReceivedRecord> records, Sink<Prediction> predictions,
                                     Sink<DeadLetter> deadLetters, ContextInferenceSettings settings) {
        DataStream<ScoringRequest> requests = scoringRequests(records, deadLetters, settings);
        PipelineOperator.PREDICTIONS_SINK.on(predictions(requests, settings, ModelClients.DEFAULT).sinkTo(predictions));
    }

    /** Dead letters to their sink; valid events keyed by user into their context: one request per event. */
    public static DataStream<ScoringRequest> scoringRequests(DataStream<ReceivedRecord> records,
                                                             Sink<DeadLetter> deadLetters,
                                                             ContextInferenceSettings settings) {
        SingleOutputStreamOperator<ReceivedRecord> valid =
                PipelineOperator.DEAD_LETTER_ROUTER.on(records.process(new DeadLetterRouter()));
        PipelineOperator.DEAD_LETTERS_SINK.on(valid.getSideOutput(DeadLetterRouter.DEAD_LETTERS).sinkTo(deadLetters));
        return PipelineOperator.USER_CONTEXT.on(valid
                .keyBy(record -> record.event.getUserId())
                .transform(PipelineOperator.USER_CONTEXT.displayName, TypeInformation.of(ScoringRequest.class),
                        new UserContextOperator(settings.stateTtl, settings.cachedUsers)));
    }

    /**
     * Micro-batches of requests, scored asynchronously by the model clients {@code clients} opens; priority requests in
     * batches and a client of their own, when the priority lane is on.
     */
    public static DataStream<Prediction> predictions(DataStream<ScoringRequest> requests,
                                                     ContextInferenceSettings settings, ModelClientFactory clients) {
        DataStream<List<ScoringRequest>> batches = PipelineOperator.MICRO_BATCHES.on(BatchingInferenceFunction.batches(
                requests, settings.maxBatchSize, settings.maxBatchWait,
                settings.priorityLane ? settings.priorityMaxWait : null));
        BatchingInferenceFunction.Lanes lanes = settings.lanes();
        BatchingInferenceFunction inference = new BatchingInferenceFunction(settings.modelSettings(), clients,
                FeatureExtractor.FEATURE_COUNT, FeatureExtractor.layout(), settings.inferenceTimeout, lanes);
        return PipelineOperator.MODEL_INFERENCE.on(BatchingInferenceFunction.apply(batches, inference,
                lanes.asyncCapacity(), new AvroTypeInfo<>(Prediction.class)));
    }
}
