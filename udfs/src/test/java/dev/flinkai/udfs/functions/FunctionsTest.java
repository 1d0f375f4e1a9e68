package dev.flinkai.udfs.functions;

import org.apache.datasketches.kll.KllDoublesSketch;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.types.Row;
import org.apache.flink.types.RowKind;
import org.apache.flink.util.CloseableIterator;
import org.apache.flink.util.ExceptionUtils;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.offset;

/** The scalar helpers and the percentile aggregate, called from SQL as users call them. */
class FunctionsTest {

    private static TableEnvironment tableEnv() {
        TableEnvironment tEnv = TableEnvironment.create(EnvironmentSettings.inStreamingMode());
        tEnv.getConfig().set("parallelism.default", "1");
        tEnv.createTemporarySystemFunction("TOP_LABEL", TopLabel.class);
        tEnv.createTemporarySystemFunction("TOP_PROBABILITY", TopProbability.class);
        tEnv.createTemporarySystemFunction("PERCENTILES", Percentiles.class);
        return tEnv;
    }

    private static List<Row> rows(TableEnvironment tEnv, String query) throws Exception {
        List<Row> rows = new ArrayList<>();
        try (CloseableIterator<Row> it = tEnv.executeSql(query).collect()) {
            it.forEachRemaining(rows::add);
        }
        return rows;
    }

    @Test
    void theTopLabelAndItsProbabilityOfAScoreArray() throws Exception {
        List<Row> rows = rows(tableEnv(), "SELECT TOP_LABEL(s, l), TOP_PROBABILITY(s), TOP_LABEL(s) FROM (VALUES "
                + "(CAST(ARRAY[0.1, 0.6, 0.3] AS ARRAY<FLOAT>), ARRAY['QUERY', 'ACTION', 'FEEDBACK']), "
                + "(CAST(ARRAY[0.4, 0.2, 0.4] AS ARRAY<FLOAT>), ARRAY['QUERY', 'ACTION', 'FEEDBACK'])) AS t(s, l)");
        assertThat(rows).containsExactly(Row.of("ACTION", 0.6f, 1), Row.of("QUERY", 0.4f, 0)); // a tie: the first
    }

    @Test
    void noScoresNoLabelAndLabelsThatDoNotFitFailNamingBothCounts() throws Exception {
        assertThat(rows(tableEnv(), "SELECT TOP_LABEL(CAST(NULL AS ARRAY<FLOAT>), ARRAY['A']), "
                + "TOP_PROBABILITY(CAST(NULL AS ARRAY<FLOAT>))")).containsExactly(Row.of(null, null));
        assertThatThrownBy(() -> rows(tableEnv(), "SELECT TOP_LABEL(CAST(ARRAY[0.1, 0.9] AS ARRAY<FLOAT>), ARRAY['A'])"))
                .satisfies(e -> assertThat(ExceptionUtils.stringifyException(e)).contains("2 scores but 1 labels"));
    }

    /** Up to the sketch's k (200) values the percentiles are exact: the inclusive-rank value of the sorted list. */
    @Test
    void percentilesOfAGroupAreThoseOfItsSortedValues() throws Exception {
        StringBuilder values = new StringBuilder();
        List<List<Integer>> groups = List.of(new ArrayList<>(), new ArrayList<>());
        Random random = new Random(3);
        for (int i = 0; i < 300; i++) {
            int group = i % 2;
            int latency = 50 + random.nextInt(5000);
            groups.get(group).add(latency);
            values.append(i == 0 ? "" : ", ").append("(").append(group).append(", ").append(latency).append(")");
        }
        values.append(", (2, CAST(NULL AS INT))");
        List<Row> rows = rows(tableEnv(), "SELECT g, p.p50, p.p95, p.p99 FROM (SELECT g, PERCENTILES(v) AS p FROM "
                + "(VALUES " + values + ") AS t(g, v) GROUP BY g)");
        List<Row> finals = new ArrayList<>();
        for (Row r : rows) {
            if (r.getKind() == RowKind.INSERT || r.getKind() == RowKind.UPDATE_AFTER) {
                finals.removeIf(f -> f.getField(0).equals(r.getField(0)));
                finals.add(Row.of(r.getField(0), r.getField(1), r.getField(2), r.getField(3)));
            }
        }
        assertThat(finals).containsExactlyInAnyOrder(expected(0, groups.get(0)), expected(1, groups.get(1)),
                Row.of(2, null, null, null));
    }

    /** Beyond k the sketch keeps its rank error; its state bytes restore the same sketch. */
    @Test
    void aLargeGroupStaysWithinTheRankErrorAndItsStateRestores() throws Exception {
        Percentiles percentiles = new Percentiles();
        KllDoublesSketch sketch = percentiles.createAccumulator();
        for (int i = 1; i <= 100_000; i++) {
            percentiles.accumulate(sketch, i);
        }
        Row p = percentiles.getValue(sketch);
        assertThat((Double) p.getField(0)).isCloseTo(50_000, offset(2_000.0));
        assertThat((Double) p.getField(2)).isCloseTo(99_000, offset(2_000.0));

        DataOutputSerializer out = new DataOutputSerializer(64);
        KllSketchSerializer.INSTANCE.serialize(sketch, out);
        KllDoublesSketch restored = KllSketchSerializer.INSTANCE.deserialize(new DataInputDeserializer(out.getCopyOfBuffer()));
        assertThat(percentiles.getValue(restored)).isEqualTo(p);
        assertThat(restored.getN()).isEqualTo(100_000);
    }

    static double inclusive(List<Integer> values, double rank) {
        List<Integer> sorted = values.stream().sorted().toList();
        return sorted.get((int) Math.ceil(rank * sorted.size()) - 1);
    }

    private static Row expected(int group, List<Integer> values) {
        return Row.of(group, inclusive(values, 0.5), inclusive(values, 0.95), inclusive(values, 0.99));
    }
}
