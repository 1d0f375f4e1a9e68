package dev.flinkai.jobs.bench;

import dev.flinkai.jobs.ContextInferenceJob;
import dev.flinkai.jobs.ContextInferenceSettings;
import dev.flinkai.jobs.PipelineOperator;
import dev.flinkai.operators.inference.PerEventInferenceFunction;
import dev.flinkai.schemas.Prediction;

import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * Benchmark baseline "naive": {@link ContextInferenceJob} with one synchronous DJL call per event
 * ({@link PerEventInferenceFunction}, a map on the task thread) in place of the async micro-batcher. Source, dead
 * letters, state backend, per-user context, features, sink and delivery guarantee are the job's own; it takes the
 * same arguments ({@code inference.*} batching settings are accepted and ignored).
 */
public final class NaiveInferenceJob {

    private NaiveInferenceJob() {}

    public static void main(String[] args) throws Exception {
        ContextInferenceSettings settings = ContextInferenceSettings.fromArgs(args);
        StreamExecutionEnvironment env = ContextInferenceJob.createEnvironment(settings);
        ContextInferenceJob.buildPipeline(ContextInferenceJob.kafkaInput(env, settings),
                ContextInferenceJob.predictionSink(settings), ContextInferenceJob.deadLetterSink(settings), settings,
                requests -> PipelineOperator.MODEL_INFERENCE.on(requests
                        .map(new PerEventInferenceFunction(ContextInferenceJob.inferenceSettings(settings)))
                        .returns(new AvroTypeInfo<>(Prediction.class))));
        env.execute("bench-naive-inference");
    }
}
