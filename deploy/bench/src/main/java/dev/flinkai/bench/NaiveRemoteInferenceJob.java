package dev.flinkai.bench;

import dev.flinkai.jobs.ContextInferenceJob;
import dev.flinkai.jobs.ContextInferenceSettings;
import dev.flinkai.jobs.PipelineOperator;
import dev.flinkai.operators.features.ScoringRequest;
import dev.flinkai.operators.inference.ModelMetadata;
import dev.flinkai.operators.inference.Predictions;
import dev.flinkai.operators.inference.remote.OipModelClient;
import dev.flinkai.schemas.Prediction;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.streaming.api.datastream.AsyncDataStream;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.async.ResultFuture;
import org.apache.flink.streaming.api.functions.async.RichAsyncFunction;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Benchmark baseline "naive_remote": {@link ContextInferenceJob} scoring through a model endpoint the way Flink's own
 * {@code ML_PREDICT} providers do, one HTTP request per event (async I/O, the same Open Inference Protocol client with
 * as many connections as the job's remote client), no batching, no resilience layer. Takes the job's arguments;
 * {@code --model.uri} must be an endpoint.
 */
public final class NaiveRemoteInferenceJob {

    private NaiveRemoteInferenceJob() {}

    public static void main(String[] args) throws Exception {
        ContextInferenceSettings settings = ContextInferenceSettings.fromArgs(args);
        StreamExecutionEnvironment env = ContextInferenceJob.createEnvironment(settings);
        DataStream<ScoringRequest> requests = ContextInferenceJob.scoringRequests(
                ContextInferenceJob.kafkaInput(env, settings), null, ContextInferenceJob.deadLetterSink(settings), settings);
        PipelineOperator.PREDICTIONS_SINK.on(PipelineOperator.MODEL_INFERENCE.on(AsyncDataStream.unorderedWait(requests,
                        new PerEventRemote(settings), settings.inferenceTimeout.toMillis(), TimeUnit.MILLISECONDS,
                        settings.inferenceCapacity))
                .returns(new AvroTypeInfo<>(Prediction.class))
                .sinkTo(ContextInferenceJob.predictionSink(settings)));
        env.execute("bench-naive-remote-inference");
    }

    /** One inference request of one row per event. Metrics as the job's: {@code inference.lane} counters. */
    static final class PerEventRemote extends RichAsyncFunction<ScoringRequest, Prediction> {
        private static final long serialVersionUID = 1L;

        private final ContextInferenceSettings settings;
        private transient OipModelClient client;
        private transient ModelMetadata model;
        private transient Counter predictions;
        private transient Counter fallbacks;

        PerEventRemote(ContextInferenceSettings settings) {
            this.settings = settings;
        }

        @Override
        public void open(OpenContext openContext) throws Exception {
            // As many connections as the job's remote client may use (its async operator's capacity in calls).
            client = OipModelClient.open(settings.modelUri, null, null, settings.lanes().asyncCapacity(),
                    Duration.ofSeconds(2), settings.remotePolicy.callTimeout(), false);
            model = client.metadata();
            MetricGroup group = getRuntimeContext().getMetricGroup().addGroup("inference").addGroup("lane", "normal");
            predictions = group.counter("predictions");
            fallbacks = group.counter("fallbacks");
        }

        @Override
        public void asyncInvoke(ScoringRequest request, ResultFuture<Prediction> result) {
            client.score(new float[][] {request.features}, Long.MAX_VALUE).whenComplete((answer, failure) -> {
                if (failure == null) {
                    predictions.inc();
                    result.complete(List.of(Predictions.scored(request, answer.scores()[0], answer.model(),
                            answer.servedBy(), null, System.currentTimeMillis())));
                } else {
                    fallbacks.inc();
                    result.complete(List.of(Predictions.priors(request, model, "model error: "
                            + Predictions.describe(failure))));
                }
            });
        }

        @Override
        public void timeout(ScoringRequest request, ResultFuture<Prediction> result) {
            fallbacks.inc();
            result.complete(List.of(Predictions.priors(request, model, "timeout")));
        }

        @Override
        public void close() {
            if (client != null) {
                client.close();
            }
        }
    }
}
