package dev.flinkai.udfs.model;

import dev.flinkai.operators.features.FeatureExtractor;
import dev.flinkai.operators.inference.ModelMetadata;
import dev.flinkai.operators.inference.ModelSettings;
import dev.flinkai.operators.inference.djl.DjlModelClient;
import dev.flinkai.operators.inference.remote.ModelEndpointFixture;
import dev.flinkai.operators.simulation.LabelledExamples;
import dev.flinkai.operators.testing.CommittedModel;

import mockwebserver3.MockResponse;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.Metric;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.runtime.testutils.InMemoryReporter;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.types.Row;
import org.apache.flink.util.CloseableIterator;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * {@code CREATE MODEL ... 'provider' = 'flinkai'} and {@code ML_PREDICT} on a MiniCluster, with the committed
 * TorchScript models and, for timeouts, the operators' real model endpoint ({@link ModelEndpointFixture}): what SQL
 * users rely on (the model's own scores, batching, fallbacks instead of failures, clear errors at planning).
 */
class MlPredictTest {

    private static final InMemoryReporter REPORTER = InMemoryReporter.createWithRetainedMetrics();

    @RegisterExtension
    static final MiniClusterExtension CLUSTER = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setConfiguration(REPORTER.addToConfiguration(new Configuration()))
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(2)
            .build());

    private static final Path MODELS = CommittedModel.modelFile().getParent();
    /** 32 features: it reads the first 32 of the job's 38. */
    private static final String MODEL_V1 = CommittedModel.uri();
    /** 38 features, all of the job's. */
    private static final String MODEL_V2 = MODELS.resolve("next_event_mlp_v2.pt").toUri().toString();

    private StreamExecutionEnvironment env;
    private StreamTableEnvironment tEnv;

    @BeforeEach
    void tableEnvironment() {
        env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(2);
        tEnv = StreamTableEnvironment.create(env);
    }

    /** {@code count} rows (id INT, features ARRAY<FLOAT>) of the job's features, registered as {@code events}. */
    private List<float[]> registerEvents(int count) {
        List<float[]> rows = new ArrayList<>(count);
        LabelledExamples.generate(11, 300, 0.8, count + 2_000, (features, next) -> {
            if (rows.size() < count) {
                rows.add(features.clone());
            }
        });
        assertThat(rows.get(0)).hasSize(FeatureExtractor.FEATURE_COUNT);
        List<Row> values = IntStream.range(0, count).mapToObj(i -> Row.of(i, boxed(rows.get(i)))).toList();
        tEnv.createTemporaryView("events", tEnv.fromDataStream(env.fromData(values,
                Types.ROW_NAMED(new String[] {"id", "features"}, Types.INT, Types.OBJECT_ARRAY(Types.FLOAT)))));
        return rows;
    }

    private static Float[] boxed(float[] values) {
        Float[] boxed = new Float[values.length];
        for (int i = 0; i < values.length; i++) {
            boxed[i] = values[i];
        }
        return boxed;
    }

    private void createModel(String name, String input, String output, String... options) {
        StringBuilder with = new StringBuilder("'provider' = 'flinkai'");
        for (int i = 0; i < options.length; i += 2) {
            with.append(", '").append(options[i]).append("' = '").append(options[i + 1]).append('\'');
        }
        tEnv.executeSql("CREATE TEMPORARY MODEL " + name + " INPUT (" + input + ") OUTPUT (" + output + ") WITH ("
                + with + ")");
    }

    private record Result(JobID job, Map<Integer, Row> rowsById) {}

    private Result collect(String query) throws Exception {
        TableResult result = tEnv.executeSql(query);
        Map<Integer, Row> rows = new HashMap<>();
        try (CloseableIterator<Row> it = result.collect()) {
            it.forEachRemaining(r -> assertThat(rows.put(r.<Integer>getFieldAs("id"), r)).isNull());
        }
        return new Result(result.getJobClient().orElseThrow().getJobID(), rows);
    }

    private static float[] floats(Row row, String field) {
        Float[] boxed = row.getFieldAs(field);
        float[] values = new float[boxed.length];
        for (int i = 0; i < boxed.length; i++) {
            values[i] = boxed[i];
        }
        return values;
    }

    private static float[][] scoredDirectly(String uri, List<float[]> rows, int featureCount) throws Exception {
        float[][] batch = rows.stream().map(r -> Arrays.copyOf(r, featureCount)).toArray(float[][]::new);
        try (DjlModelClient client = DjlModelClient.open(ModelSettings.forModel(uri), "direct",
                new UnregisteredMetricsGroup())) {
            return client.score(batch, Long.MAX_VALUE).get(60, TimeUnit.SECONDS).scores();
        }
    }

    private static final String OUTPUT = "label STRING, probability FLOAT, probabilities ARRAY<FLOAT>, "
            + "model_version STRING, served_by STRING, fallback BOOLEAN, fallback_reason STRING";

    @Test
    void predictionsFromAnArrayColumnAreTheModelsOwnScores() throws Exception {
        List<float[]> rows = registerEvents(400);
        createModel("next_event", "features ARRAY<FLOAT>", OUTPUT, "uri", MODEL_V1, "max-batch-size", "16");

        Result result = collect("SELECT id, " + columnsOf(OUTPUT) + " FROM ML_PREDICT(TABLE events, MODEL next_event, "
                + "DESCRIPTOR(features), MAP['max-concurrent-operations', '64'])");

        float[][] expected = scoredDirectly(MODEL_V1, rows, 32);
        ModelMetadata model = ModelMetadata.read(CommittedModel.metadataFile());
        assertThat(result.rowsById()).hasSize(rows.size());
        result.rowsById().forEach((id, row) -> {
            assertThat(row.<Boolean>getFieldAs("fallback")).as("row %s: %s", id, row).isFalse();
            assertThat(row.<String>getFieldAs("fallback_reason")).isNull();
            assertThat(row.<String>getFieldAs("model_version")).isEqualTo(model.version());
            assertThat(row.<String>getFieldAs("served_by")).isEqualTo("local");
            float[] probabilities = floats(row, "probabilities");
            assertThat(probabilities).containsExactly(expected[id], within(1e-5f));
            int top = ModelMetadata.argmax(expected[id]);
            assertThat(row.<String>getFieldAs("label")).isEqualTo(model.labels().get(top));
            assertThat(row.<Float>getFieldAs("probability")).isCloseTo(expected[id][top], within(1e-5f));
        });
    }

    @Test
    void predictionsFromOneNumericColumnPerFeatureAreTheModelsOwnScores() throws Exception {
        List<float[]> rows = registerEvents(100);
        int width = FeatureExtractor.FEATURE_COUNT;
        String columns = IntStream.range(0, width).mapToObj(i -> "f" + i).collect(Collectors.joining(", "));
        tEnv.executeSql("CREATE TEMPORARY VIEW feature_columns AS SELECT id, " + IntStream.range(0, width)
                .mapToObj(i -> "CAST(features[" + (i + 1) + "] AS DOUBLE) AS f" + i).collect(Collectors.joining(", "))
                + " FROM events");
        createModel("next_event_v2", IntStream.range(0, width).mapToObj(i -> "f" + i + " DOUBLE")
                .collect(Collectors.joining(", ")), "probabilities ARRAY<FLOAT>, fallback BOOLEAN", "uri", MODEL_V2);

        Result result = collect("SELECT id, probabilities, fallback FROM ML_PREDICT(TABLE feature_columns, "
                + "MODEL next_event_v2, DESCRIPTOR(" + columns + "))");

        float[][] expected = scoredDirectly(MODEL_V2, rows, width);
        assertThat(result.rowsById()).hasSize(rows.size());
        result.rowsById().forEach((id, row) -> {
            assertThat(row.<Boolean>getFieldAs("fallback")).isFalse();
            assertThat(floats(row, "probabilities")).containsExactly(expected[id], within(1e-5f));
        });
    }

    @Test
    void rowsUnderLoadAreScoredInBatchesAndOneByOneWithoutBatching() throws Exception {
        int count = 3_000;
        registerEvents(count);
        createModel("batched", "features ARRAY<FLOAT>", "label STRING", "uri", MODEL_V1, "max-batch-size", "64",
                "max-wait", "50 ms");
        createModel("unbatched", "features ARRAY<FLOAT>", "label STRING", "uri", MODEL_V1, "batching", "false");
        String query = "SELECT id, label FROM ML_PREDICT(TABLE events, MODEL %s, DESCRIPTOR(features), "
                + "MAP['max-concurrent-operations', '256'])";

        Result batched = collect(String.format(query, "batched"));
        Result unbatched = collect(String.format(query, "unbatched"));

        assertThat(batched.rowsById()).hasSize(count);
        assertThat(unbatched.rowsById()).hasSize(count);
        List<Histogram> batchSizes = metrics(batched.job(), "batchSize", Histogram.class);
        assertThat(batchSizes).isNotEmpty();
        assertThat(batchSizes.stream().mapToLong(h -> h.getStatistics().getMax()).max().orElseThrow()).isGreaterThan(1);
        assertThat(batchSizes.stream().mapToLong(h -> h.getStatistics().getMax()).max().orElseThrow())
                .isLessThanOrEqualTo(64);
        assertThat(batchSizes.stream().mapToLong(Histogram::getCount).sum()).as("model calls").isLessThan(count);
        assertThat(sum(batched.job(), "predictions")).isEqualTo(count);
        List<Histogram> single = metrics(unbatched.job(), "batchSize", Histogram.class);
        assertThat(single.stream().mapToLong(h -> h.getStatistics().getMax()).max().orElseThrow()).isEqualTo(1);
        assertThat(single.stream().mapToLong(Histogram::getCount).sum()).as("model calls").isEqualTo(count);
        assertThat(sum(unbatched.job(), "predictions")).isEqualTo(count);
    }

    @Test
    void predictionsFromAModelEndpointAreTheModelsOwnScores() throws Exception {
        List<float[]> rows = registerEvents(200);
        try (ModelEndpointFixture endpoint = new ModelEndpointFixture()) {
            createModel("remote", "features ARRAY<FLOAT>", OUTPUT, "uri", endpoint.modelUri(), "max-batch-size", "16");

            Result result = collect("SELECT id, " + columnsOf(OUTPUT) + " FROM ML_PREDICT(TABLE events, MODEL remote, "
                    + "DESCRIPTOR(features), MAP['max-concurrent-operations', '64'])");

            float[][] expected = scoredDirectly(MODEL_V1, rows, 32);
            assertThat(result.rowsById()).hasSize(rows.size());
            result.rowsById().forEach((id, row) -> {
                assertThat(row.<Boolean>getFieldAs("fallback")).as("row %s: %s", id, row).isFalse();
                assertThat(row.<String>getFieldAs("served_by")).isEqualTo("remote");
                assertThat(floats(row, "probabilities")).containsExactly(expected[id], within(1e-5f));
            });
            assertThat(endpoint.inferCalls.get()).as("calls to the endpoint").isLessThan(rows.size());
        }
    }

    @Test
    void aModelThatDoesNotAnswerInTimeGivesFlaggedFallbacksNotAFailure() throws Exception {
        int count = 40;
        registerEvents(count);
        try (ModelEndpointFixture endpoint = new ModelEndpointFixture()) {
            for (int i = 0; i < 3 * count; i++) { // every call and retry: more than any of them can make
                endpoint.fault(new MockResponse.Builder().code(200).headersDelay(3, TimeUnit.SECONDS).body("{}").build());
            }
            createModel("slow", "features ARRAY<FLOAT>", OUTPUT, "uri", endpoint.modelUri(), "timeout", "300 ms",
                    "max-batch-size", "8");

            Result result = collect("SELECT id, " + columnsOf(OUTPUT) + " FROM ML_PREDICT(TABLE events, MODEL slow, "
                    + "DESCRIPTOR(features), MAP['max-concurrent-operations', '32'])");

            ModelMetadata model = ModelMetadata.read(CommittedModel.metadataFile());
            assertThat(result.rowsById()).hasSize(count);
            result.rowsById().values().forEach(row -> {
                assertThat(row.<Boolean>getFieldAs("fallback")).isTrue();
                assertThat(row.<String>getFieldAs("fallback_reason")).isEqualTo("timeout after 300 ms");
                assertThat(row.<String>getFieldAs("served_by")).isEqualTo("priors");
                assertThat(floats(row, "probabilities")).containsExactly(model.classPriors());
            });
            assertThat(sum(result.job(), "timeouts")).isEqualTo(count);
            assertThat(sum(result.job(), "fallbacks")).isEqualTo(count);
        }
    }

    @Test
    void aModelOfAnotherFeatureCountThanTheInputFailsAtPlanningNamingBoth() {
        registerEvents(10);
        int width = FeatureExtractor.FEATURE_COUNT;
        tEnv.executeSql("CREATE TEMPORARY VIEW feature_columns AS SELECT id, " + IntStream.range(0, width)
                .mapToObj(i -> "features[" + (i + 1) + "] AS f" + i).collect(Collectors.joining(", ")) + " FROM events");
        createModel("too_narrow", IntStream.range(0, width).mapToObj(i -> "f" + i + " FLOAT")
                .collect(Collectors.joining(", ")), "label STRING", "uri", MODEL_V1);

        assertThatThrownBy(() -> tEnv.executeSql("SELECT id, label FROM ML_PREDICT(TABLE feature_columns, "
                + "MODEL too_narrow, DESCRIPTOR(" + IntStream.range(0, width).mapToObj(i -> "f" + i)
                .collect(Collectors.joining(", ")) + "))"))
                .rootCause().isInstanceOf(ValidationException.class)
                .hasMessageContaining("its INPUT has " + width + " feature columns")
                .hasMessageContaining("takes 32 features");
    }

    @Test
    void anUnknownOptionFailsNamingTheKey() {
        registerEvents(10);
        createModel("misspelt", "features ARRAY<FLOAT>", "label STRING", "uri", MODEL_V1, "max-batchsize", "8");

        assertThatThrownBy(() -> tEnv.executeSql("SELECT id, label FROM ML_PREDICT(TABLE events, MODEL misspelt, "
                + "DESCRIPTOR(features))"))
                .rootCause().isInstanceOf(ValidationException.class)
                .hasMessageContaining("Unsupported options found for 'flinkai'")
                .hasMessageContaining("max-batchsize");
    }

    @Test
    void anOutputColumnAPredictionDoesNotHaveFailsNamingTheSupportedOnes() {
        registerEvents(10);
        createModel("odd_output", "features ARRAY<FLOAT>", "confidence DOUBLE", "uri", MODEL_V1);

        assertThatThrownBy(() -> tEnv.executeSql("SELECT id, confidence FROM ML_PREDICT(TABLE events, "
                + "MODEL odd_output, DESCRIPTOR(features))"))
                .rootCause().isInstanceOf(ValidationException.class)
                .hasMessageContaining("unknown OUTPUT column confidence")
                .hasMessageContaining("probabilities ARRAY<FLOAT>");
    }

    private static String columnsOf(String schema) {
        return Arrays.stream(schema.split(",")).map(c -> c.trim().split(" ")[0]).collect(Collectors.joining(", "));
    }

    /** The metric of every subtask of the job's ML_PREDICT operator, by its name in the group {@code inference}. */
    private static <M extends Metric> List<M> metrics(JobID job, String name, Class<M> type) {
        return REPORTER.findMetrics(job, ".*\\.inference\\." + name).entrySet().stream()
                .sorted(Map.Entry.comparingByKey(Comparator.naturalOrder()))
                .map(Map.Entry::getValue).map(type::cast).toList();
    }

    private static long sum(JobID job, String counter) {
        return metrics(job, counter, Counter.class).stream().mapToLong(Counter::getCount).sum();
    }
}
