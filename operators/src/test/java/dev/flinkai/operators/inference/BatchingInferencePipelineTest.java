package dev.flinkai.operators.inference;

import dev.flinkai.operators.features.FeatureExtractor;
import dev.flinkai.operators.features.ScoringRequest;
import dev.flinkai.operators.inference.djl.DjlModelClient;
import dev.flinkai.operators.simulation.LabelledExamples;
import dev.flinkai.operators.testing.CommittedModel;
import dev.flinkai.operators.testing.InterceptedScorer;
import dev.flinkai.schemas.Prediction;

import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Micro-batching then async inference as the job wires them ({@link BatchingInferenceFunction#batches}, then
 * {@link BatchingInferenceFunction#apply}), on a real MiniCluster with two
 * parallel subtasks each loading the committed model.
 */
class BatchingInferencePipelineTest {

    @RegisterExtension
    static final MiniClusterExtension CLUSTER = new MiniClusterExtension(
            new MiniClusterResourceConfiguration.Builder().setNumberTaskManagers(1).setNumberSlotsPerTaskManager(2).build());

    /** The rows of every call the in-process client makes to the real model (the MiniCluster runs in this JVM). */
    static final List<Integer> CALL_SIZES = new CopyOnWriteArrayList<>();

    private static final ModelClientFactory RECORDING_CLIENTS = (settings, owner, metrics) ->
            DjlModelClient.open(settings, owner, metrics, predictor -> new InterceptedScorer(predictor, (batch, real) -> {
                CALL_SIZES.add(batch.length);
                return real.score(batch);
            }));

    /**
     * Every request gets exactly one model prediction, the model is called with lists of up to maxBatchSize requests,
     * and the lists still open at the end of input are scored too.
     */
    @Test
    void everyRequestGetsOneModelPredictionThroughBatchesAndApply() throws Exception {
        List<ScoringRequest> requests = new ArrayList<>();
        LabelledExamples.generate(11, 200, 0.8, 1_200, (f, label) -> {
            if (requests.size() < 1_000) {
                int i = requests.size();
                requests.add(new ScoringRequest("ev-" + i, "user-" + (i % 50), 0, 1_000L + i, 2_000L + i, f.clone()));
            }
        });
        int maxBatchSize = 32;
        CALL_SIZES.clear();

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(2);
        DataStream<ScoringRequest> in = env.fromData(requests).rebalance();
        // A long wait: lists close full, or at the end of input; never on a timer in a test this short.
        DataStream<List<ScoringRequest>> batches = BatchingInferenceFunction.batches(in, maxBatchSize, Duration.ofSeconds(30), null)
                .uid("micro-batches").name("micro-batches");
        BatchingInferenceFunction inference = new BatchingInferenceFunction(ModelSettings.forModel(CommittedModel.uri()),
                RECORDING_CLIENTS, FeatureExtractor.LAYOUT, Duration.ofSeconds(30));
        DataStream<Prediction> out = BatchingInferenceFunction.apply(batches, inference, 100)
                .uid("inference").name("inference")
                .process(new ModelEventSplitter(), new AvroTypeInfo<>(Prediction.class));

        List<Prediction> predictions = new ArrayList<>();
        out.executeAndCollect().forEachRemaining(predictions::add);

        assertThat(predictions).hasSize(requests.size());
        assertThat(predictions).extracting(Prediction::getEventId).doesNotHaveDuplicates();
        assertThat(predictions).allSatisfy(p -> {
            assertThat(p.getFallback()).isFalse();
            assertThat(p.getScores()).hasSize(4);
        });
        List<Integer> calls = CALL_SIZES;
        assertThat(calls.stream().mapToInt(Integer::intValue).sum()).isEqualTo(requests.size());
        assertThat(calls).allSatisfy(size -> assertThat(size).isBetween(1, maxBatchSize));
        // No timer, watermark or checkpoint closes a list early: each subtask leaves at most one partial list, at the end.
        assertThat(calls).filteredOn(size -> size < maxBatchSize).hasSizeLessThanOrEqualTo(2);
    }
}
