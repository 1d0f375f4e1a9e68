package dev.flinkai.jobs;

import dev.flinkai.jobs.kafka.KafkaIo;
import dev.flinkai.operators.context.UserContextOperator;
import dev.flinkai.operators.features.FeatureExtractor;
import dev.flinkai.operators.features.ScoringRequest;
import dev.flinkai.operators.inference.BatchingInferenceFunction;
import dev.flinkai.operators.inference.InferenceOptions;
import dev.flinkai.operators.inference.ModelClientFactory;
import dev.flinkai.operators.inference.ModelClients;
import dev.flinkai.operators.inference.ModelEventSplitter;
import dev.flinkai.operators.inference.ModelMetadata;
import dev.flinkai.operators.inference.djl.ModelArtifacts;
import dev.flinkai.operators.inference.remote.OipModelClient;
import dev.flinkai.operators.ingest.ControlRecordDeserializer;
import dev.flinkai.operators.ingest.DeadLetterRouter;
import dev.flinkai.operators.ingest.ReceivedRecord;
import dev.flinkai.schemas.DeadLetter;
import dev.flinkai.schemas.ModelEvent;
import dev.flinkai.schemas.Prediction;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExternalizedCheckpointRetention;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.core.execution.CheckpointingMode;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.state.rocksdb.RocksDBConfigurableOptions;
import org.apache.flink.state.rocksdb.RocksDBOptions;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.KeyedStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.ParameterTool;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The main job: user events (and profiles) from Kafka -> per-user context in RocksDB -> features -> async
 * micro-batched model inference -> predictions to Kafka. Model updates from Kafka switch the served model while it
 * runs, and what each subtask did with them goes to the model-events topic. Records that cannot be decoded or are
 * invalid go to the dead-letter topic.
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
        ModelMetadata served = refuseAModelThatDoesNotFit(settings);
        configure(env, settings);
        buildPipeline(kafkaInput(env, settings), modelUpdates(env, settings, servedModelName(settings, served)),
                kafkaOutputs(settings), settings);
        env.execute("context-inference");
    }

    /** Where the job writes: predictions, dead letters, model events. */
    public record Outputs(Sink<Prediction> predictions, Sink<DeadLetter> deadLetters, Sink<ModelEvent> modelEvents) {}

    /**
     * Fails the submission when the model's metadata names a feature count the job's features do not fit. The
     * inference operator checks it again when it opens; a model that cannot be read now is left to that check.
     *
     * @return the metadata checked, or null when it could not be read now
     */
    static ModelMetadata refuseAModelThatDoesNotFit(ContextInferenceSettings settings) {
        String checked = settings.modelSettings().remote() ? settings.fallbackUri : settings.modelUri;
        if (checked == null) {
            return null; // a remote model without fallback: its endpoint's metadata is checked when the operator opens
        }
        ModelMetadata model;
        try {
            model = ModelArtifacts.fetchMetadata(checked, settings.modelSettings().s3Access());
        } catch (Exception e) {
            LOG.warn("Cannot read the metadata of {} now ({}); the inference operator checks it when it opens",
                    checked, e.toString());
            return null;
        }
        FeatureExtractor.LAYOUT.requireFits(model);
        return model;
    }

    /**
     * The name model updates must carry: {@code model.name}, else the endpoint's model name in a remote URI, else the
     * name in the served model's metadata.
     */
    static String servedModelName(ContextInferenceSettings settings, ModelMetadata served) {
        if (settings.modelName != null) {
            return settings.modelName;
        }
        if (settings.modelSettings().remote()) {
            return OipModelClient.modelName(settings.modelUri);
        }
        if (served != null) {
            return served.name();
        }
        throw new IllegalArgumentException("Cannot read the model's metadata to learn its name, which model updates "
                + "must carry: set --" + InferenceOptions.MODEL_NAME.key() + " (or --"
                + ContextInferenceOptions.TOPIC_MODEL_UPDATES.key() + " '' for no model updates)");
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

    /**
     * User events and, when the job reads them, user profiles, from Kafka, each stamped with its event time (which the
     * predictions keep as their Kafka timestamps) but without watermarks: no operator of the job works in event time,
     * and the unordered async inference operator may not pass an answer over a watermark, so every watermark would hold
     * the answers after it, priority ones included, until the slowest model call before it returned.
     */
    public static DataStream<ReceivedRecord> kafkaInput(StreamExecutionEnvironment env, ContextInferenceSettings settings) {
        WatermarkStrategy<ReceivedRecord> watermarks = WatermarkStrategy.<ReceivedRecord>noWatermarks()
                .withTimestampAssigner((record, kafkaTimestamp) ->
                        record.isValid() ? record.timestampMillis() : kafkaTimestamp);
        DataStream<ReceivedRecord> events = PipelineOperator.EVENTS_SOURCE.on(env.fromSource(
                KafkaIo.userEventSource(settings.kafka, settings.eventsTopic, settings.groupId),
                watermarks, PipelineOperator.EVENTS_SOURCE.displayName));
        if (settings.profilesTopic == null) {
            return events;
        }
        return events.union(PipelineOperator.PROFILES_SOURCE.on(env.fromSource(
                KafkaIo.recordSource(settings.kafka, settings.profilesTopic, settings.groupId,
                        ControlRecordDeserializer.profiles(),
                        OffsetsInitializer.committedOffsets(OffsetResetStrategy.EARLIEST)),
                watermarks, PipelineOperator.PROFILES_SOURCE.displayName)));
    }

    /**
     * The model updates for the model named {@code modelName}, or null when the job reads none. A job's first start
     * reads what is published from its submission on: it serves its configured model until an update comes. (From a
     * point in time, not "the latest": the Kafka source would keep "latest" unresolved in its checkpoints until it
     * reads a record, and a restore would then skip an update published before the failure.)
     */
    public static DataStream<ReceivedRecord> modelUpdates(StreamExecutionEnvironment env,
                                                          ContextInferenceSettings settings, String modelName) {
        if (settings.modelUpdatesTopic == null) {
            return null;
        }
        return PipelineOperator.MODEL_UPDATES_SOURCE.on(env.fromSource(
                KafkaIo.recordSource(settings.kafka, settings.modelUpdatesTopic, settings.groupId,
                        ControlRecordDeserializer.modelUpdates(modelName),
                        OffsetsInitializer.timestamp(System.currentTimeMillis())),
                WatermarkStrategy.noWatermarks(), PipelineOperator.MODEL_UPDATES_SOURCE.displayName));
    }

    public static Outputs kafkaOutputs(ContextInferenceSettings settings) {
        return new Outputs(predictionSink(settings), deadLetterSink(settings), modelEventSink(settings));
    }

    public static Sink<Prediction> predictionSink(ContextInferenceSettings settings) {
        return KafkaIo.avroSink(settings.kafka, settings.predictionsTopic, Prediction.class,
                p -> p.getUserId().getBytes(StandardCharsets.UTF_8), settings.delivery,
                settings.groupId + "-predictions", settings.transactionTimeout, settings.producerLinger);
    }

    public static Sink<DeadLetter> deadLetterSink(ContextInferenceSettings settings) {
        return KafkaIo.avroSink(settings.kafka, settings.deadLettersTopic, DeadLetter.class,
                d -> (d.getSourceTopic() + "-" + d.getSourcePartition()).getBytes(StandardCharsets.UTF_8),
                settings.delivery, settings.groupId + "-dead-letters", settings.transactionTimeout, settings.producerLinger);
    }

    public static Sink<ModelEvent> modelEventSink(ContextInferenceSettings settings) {
        return KafkaIo.avroSink(settings.kafka, settings.modelEventsTopic, ModelEvent.class,
                e -> (e.getModelName() + "-" + e.getSubtask()).getBytes(StandardCharsets.UTF_8), settings.delivery,
                settings.groupId + "-model-events", settings.transactionTimeout, settings.producerLinger);
    }

    /**
     * Wires the job between any record sources and sinks, so tests can run it on their own inputs and outputs.
     *
     * @param records      events and profiles
     * @param modelUpdates null for a job whose model never changes while it runs
     */
    public static void buildPipeline(DataStream<ReceivedRecord> records, DataStream<ReceivedRecord> modelUpdates,
                                     Outputs outputs, ContextInferenceSettings settings) {
        DataStream<ScoringRequest> requests = scoringRequests(records, modelUpdates, outputs.deadLetters(), settings);
        SingleOutputStreamOperator<Prediction> predictions = predictions(requests, settings, ModelClients.DEFAULT);
        PipelineOperator.PREDICTIONS_SINK.on(predictions.sinkTo(outputs.predictions()));
        PipelineOperator.MODEL_EVENTS_SINK.on(predictions.getSideOutput(ModelEventSplitter.MODEL_EVENTS)
                .sinkTo(outputs.modelEvents()));
    }

    /**
     * Dead letters to their sink; valid events and profiles keyed by user into their context: one request per event.
     * Model updates, broadcast to every context subtask, pass on as control requests.
     */
    public static DataStream<ScoringRequest> scoringRequests(DataStream<ReceivedRecord> records,
                                                             DataStream<ReceivedRecord> modelUpdates,
                                                             Sink<DeadLetter> deadLetters,
                                                             ContextInferenceSettings settings) {
        SingleOutputStreamOperator<ReceivedRecord> valid =
                PipelineOperator.DEAD_LETTER_ROUTER.on(records.process(new DeadLetterRouter()));
        DataStream<DeadLetter> dead = valid.getSideOutput(DeadLetterRouter.DEAD_LETTERS);
        KeyedStream<ReceivedRecord, String> byUser = valid.keyBy(ReceivedRecord::userId);
        UserContextOperator contexts = new UserContextOperator(settings.stateTtl, settings.cachedUsers);
        TypeInformation<ScoringRequest> requestType = TypeInformation.of(ScoringRequest.class);
        SingleOutputStreamOperator<ScoringRequest> requests;
        if (modelUpdates == null) {
            requests = byUser.transform(PipelineOperator.USER_CONTEXT.displayName, requestType, contexts);
        } else {
            SingleOutputStreamOperator<ReceivedRecord> validUpdates = PipelineOperator.MODEL_UPDATE_DEAD_LETTER_ROUTER
                    .on(modelUpdates.process(new DeadLetterRouter()));
            dead = dead.union(validUpdates.getSideOutput(DeadLetterRouter.DEAD_LETTERS));
            requests = byUser.connect(validUpdates.broadcast())
                    .transform(PipelineOperator.USER_CONTEXT.displayName, requestType, contexts);
        }
        PipelineOperator.DEAD_LETTERS_SINK.on(dead.sinkTo(deadLetters));
        return PipelineOperator.USER_CONTEXT.on(requests);
    }

    /**
     * Micro-batches of requests, scored asynchronously by the model clients {@code clients} opens; priority requests in
     * batches and a client of their own, when the priority lane is on. Model events in the side output
     * {@link ModelEventSplitter#MODEL_EVENTS}.
     */
    public static SingleOutputStreamOperator<Prediction> predictions(DataStream<ScoringRequest> requests,
                                                                     ContextInferenceSettings settings,
                                                                     ModelClientFactory clients) {
        DataStream<List<ScoringRequest>> batches = PipelineOperator.MICRO_BATCHES.on(BatchingInferenceFunction.batches(
                requests, settings.maxBatchSize, settings.maxBatchWait,
                settings.priorityLane ? settings.priorityMaxWait : null));
        BatchingInferenceFunction.Lanes lanes = settings.lanes();
        BatchingInferenceFunction inference = new BatchingInferenceFunction(settings.modelSettings(), clients,
                FeatureExtractor.LAYOUT, settings.inferenceTimeout, lanes);
        return PipelineOperator.MODEL_EVENT_SPLITTER.on(PipelineOperator.MODEL_INFERENCE
                .on(BatchingInferenceFunction.apply(batches, inference, lanes.asyncCapacity()))
                .process(new ModelEventSplitter(), new AvroTypeInfo<>(Prediction.class)));
    }
}
