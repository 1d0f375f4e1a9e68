package dev.flinkai.bench;

import dev.flinkai.jobs.ContextInferenceJob;
import dev.flinkai.jobs.ContextInferenceSettings;
import dev.flinkai.jobs.PipelineOperator;
import dev.flinkai.operators.features.ScoringRequest;
import dev.flinkai.operators.inference.ModelAnswer;
import dev.flinkai.operators.inference.ModelMetadata;
import dev.flinkai.operators.inference.Predictions;
import dev.flinkai.operators.inference.djl.BatchScorer;
import dev.flinkai.operators.inference.djl.DjlModel;
import dev.flinkai.operators.inference.djl.ModelArtifacts;
import dev.flinkai.schemas.Prediction;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Benchmark baseline "naive": {@link ContextInferenceJob} with one synchronous DJL call per event on the task thread
 * (a map) in place of the async micro-batcher. Source, dead letters, state backend, per-user context, features, sink
 * and delivery guarantee are the job's own; it takes the same arguments ({@code inference.*} batching settings are
 * accepted and ignored).
 */
public final class NaiveInferenceJob {

    private NaiveInferenceJob() {}

    public static void main(String[] args) throws Exception {
        ContextInferenceSettings settings = ContextInferenceSettings.fromArgs(args);
        StreamExecutionEnvironment env = ContextInferenceJob.createEnvironment(settings);
        DataStream<ScoringRequest> requests = ContextInferenceJob.scoringRequests(
                ContextInferenceJob.kafkaInput(env, settings), null, ContextInferenceJob.deadLetterSink(settings), settings);
        PipelineOperator.PREDICTIONS_SINK.on(PipelineOperator.MODEL_INFERENCE.on(requests
                        .map(new PerEventInference(settings)).returns(new AvroTypeInfo<>(Prediction.class)))
                .sinkTo(ContextInferenceJob.predictionSink(settings)));
        env.execute("bench-naive-inference");
    }

    /**
     * One {@code predict} call with a one-row batch per event, on the task thread. Same model, same answers and the
     * same fallbacks (class priors, flagged) as the job's inference. Metrics, in {@code inference.lane} (lane
     * "normal", as the job's): counters {@code predictions}, {@code fallbacks}.
     */
    static final class PerEventInference extends RichMapFunction<ScoringRequest, Prediction> {
        private static final long serialVersionUID = 1L;

        private final ContextInferenceSettings settings;
        private transient Path downloadDir;
        private transient DjlModel model;
        private transient BatchScorer predictor;
        private transient ModelMetadata metadata;
        private transient float[][] oneRow;
        private transient Counter predictions;
        private transient Counter fallbacks;

        PerEventInference(ContextInferenceSettings settings) {
            this.settings = settings;
        }

        @Override
        public void open(OpenContext openContext) throws Exception {
            downloadDir = Files.createTempDirectory("naive-model-");
            model = DjlModel.load(ModelArtifacts.fetch(settings.modelUri, settings.modelSettings().s3Access(), downloadDir));
            metadata = model.metadata();
            predictor = model.newPredictor();
            oneRow = new float[1][];
            MetricGroup group = getRuntimeContext().getMetricGroup().addGroup("inference").addGroup("lane", "normal");
            predictions = group.counter("predictions");
            fallbacks = group.counter("fallbacks");
        }

        @Override
        public Prediction map(ScoringRequest request) {
            String invalid = Predictions.invalidFeatures(request, metadata);
            if (invalid != null) {
                fallbacks.inc();
                return Predictions.priors(request, metadata, invalid);
            }
            float[] scores;
            try {
                oneRow[0] = request.features;
                scores = predictor.score(oneRow)[0];
            } catch (Exception e) {
                fallbacks.inc();
                return Predictions.priors(request, metadata, "model error: " + Predictions.describe(e));
            } finally {
                oneRow[0] = null;
            }
            predictions.inc();
            return Predictions.scored(request, scores, metadata, ModelAnswer.LOCAL, null, System.currentTimeMillis());
        }

        @Override
        public void close() throws Exception {
            if (predictor != null) {
                predictor.close();
            }
            if (model != null) {
                model.close();
            }
            if (downloadDir != null) {
                try (var files = Files.list(downloadDir)) {
                    for (Path f : files.toList()) {
                        Files.deleteIfExists(f);
                    }
                }
                Files.deleteIfExists(downloadDir);
            }
        }
    }
}
