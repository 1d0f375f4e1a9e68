package dev.flinkai.operators.inference;

import dev.flinkai.operators.simulation.LabelledExamples;
import dev.flinkai.schemas.Prediction;

import org.apache.flink.api.java.typeutils.GenericTypeInfo;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The helper the job calls, on a real MiniCluster with two parallel subtasks each loading the committed model. */
class BatchingInferencePipelineTest {

    @RegisterExtension
    static final MiniClusterExtension CLUSTER = new MiniClusterExtension(
            new MiniClusterResourceConfiguration.Builder().setNumberTaskManagers(1).setNumberSlotsPerTaskManager(2).build());

    @Test
    void everyRequestGetsOneModelPredictionThroughApply() throws Exception {
        List<ScoringRequest> requests = new ArrayList<>();
        LabelledExamples.generate(11, 200, 0.8, 1_200, (f, label) -> {
            if (requests.size() < 1_000) {
                int i = requests.size();
                requests.add(new ScoringRequest("ev-" + i, "user-" + (i % 50), 0, 1_000L + i, 2_000L + i, f.clone()));
            }
        });

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(2);
        DataStream<ScoringRequest> in = env.fromData(requests).rebalance();
        InferenceSettings settings = InferenceSettings.forModel(CommittedModel.uri()).maxBatchSize(32);
        Duration timeout = Duration.ofSeconds(30);
        // This module has no flink-avro, so the output type is given (Kryo); the job's apply(in, settings, ...) lets
        // Flink pick the Avro type.
        DataStream<Prediction> out = BatchingInferenceFunction.apply(in, new BatchingInferenceFunction(settings, timeout),
                timeout, 100, new GenericTypeInfo<>(Prediction.class)).uid("inference").name("inference");

        List<Prediction> predictions = new ArrayList<>();
        out.executeAndCollect().forEachRemaining(predictions::add);

        assertThat(predictions).hasSize(requests.size());
        assertThat(predictions).extracting(Prediction::getEventId).doesNotHaveDuplicates();
        assertThat(predictions).allSatisfy(p -> {
            assertThat(p.getFallback()).isFalse();
            assertThat(p.getScores()).hasSize(4);
        });
    }
}
