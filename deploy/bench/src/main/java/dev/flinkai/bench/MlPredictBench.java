package dev.flinkai.bench;

import dev.flinkai.operators.simulation.LabelledExamples;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.types.Row;
import org.apache.flink.util.CloseableIterator;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Benchmark "ml_predict": the same {@code ML_PREDICT} statement over {@code --rows} generated feature rows (the job's
 * own features, {@link LabelledExamples}, cycled), once with the {@code flinkai} provider micro-batching
 * ({@code max-batch-size} rows per model call) and once with {@code 'batching' = 'false'} (one model call per row, as
 * Flink's own providers do), each on its own local MiniCluster in this JVM, one after the other. Prints one JSON line:
 * per run the rows, the fallbacks (rows the model did not answer: they must be 0 for the figures to mean anything),
 * wall seconds, the CPU seconds of the whole process during the run (planning, model loading and the job included)
 * and rows per process CPU-second; and the ratio batched / per-row. A warm-up statement of {@code --warmup-rows}
 * rows per mode runs first, so neither run pays for the JIT alone.
 *
 * <pre>
 * java -Dai.djl.offline=true -Dai.djl.pytorch.num_threads=1 -Dai.djl.pytorch.num_interop_threads=1 \
 *   -cp 'flink-ai-bench.jar:deploy/local/.cache/cluster/lib/*' dev.flinkai.bench.MlPredictBench \
 *   --model notebooks/model/next_event_mlp.pt [--rows 200000] [--max-batch-size 64] [--max-wait '2 ms'] \
 *   [--capacity 256] [--warmup-rows 5000]
 * </pre>
 */
public final class MlPredictBench {

    private MlPredictBench() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> a = BenchArgs.parse(args);
        String model = Path.of(BenchArgs.get(a, "model", "notebooks/model/next_event_mlp.pt")).toAbsolutePath().toUri()
                .toString();
        long rows = Long.parseLong(BenchArgs.get(a, "rows", "200000"));
        String maxBatchSize = BenchArgs.get(a, "max-batch-size", "64");
        String maxWait = BenchArgs.get(a, "max-wait", "2 ms");
        String capacity = BenchArgs.get(a, "capacity", "256");
        long warmupRows = Long.parseLong(BenchArgs.get(a, "warmup-rows", "5000"));

        List<Float[]> pool = new ArrayList<>();
        LabelledExamples.generate(7, 5_000, 0.8, 20_000, (features, next) -> {
            Float[] boxed = new Float[features.length];
            for (int i = 0; i < features.length; i++) {
                boxed[i] = features[i];
            }
            pool.add(boxed);
        });
        Float[][] examples = pool.toArray(new Float[0][]);

        String batchedOptions = "'max-batch-size' = '" + maxBatchSize + "', 'max-wait' = '" + maxWait + "'";
        String perRowOptions = "'batching' = 'false'";
        run(examples, model, batchedOptions, capacity, warmupRows);
        run(examples, model, perRowOptions, capacity, warmupRows);
        Map<String, Object> batched = run(examples, model, batchedOptions, capacity, rows);
        Map<String, Object> perRow = run(examples, model, perRowOptions, capacity, rows);

        Map<String, Object> out = new LinkedHashMap<>();
        out.put("model", model);
        out.put("rows", rows);
        out.put("max_batch_size", Integer.parseInt(maxBatchSize));
        out.put("max_wait", maxWait);
        out.put("max_concurrent_operations", Integer.parseInt(capacity));
        out.put("available_processors", Runtime.getRuntime().availableProcessors());
        out.put("pytorch_num_threads", System.getProperty("ai.djl.pytorch.num_threads"));
        out.put("batched", batched);
        out.put("per_row", perRow);
        out.put("ratio_rows_per_cpu_s", ModelLimitBench.round(
                ((Number) batched.get("rows_per_process_cpu_s")).doubleValue()
                        / ((Number) perRow.get("rows_per_process_cpu_s")).doubleValue(), 2));
        System.out.println(BenchArgs.toJson(out));
    }

    /** One statement over {@code rows} rows, on a MiniCluster of its own; collects only the fallbacks. */
    private static Map<String, Object> run(Float[][] examples, String model, String options, String capacity,
                                           long rows) throws Exception {
        com.sun.management.OperatingSystemMXBean os =
                (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        long wall0 = System.nanoTime();
        long cpu0 = os.getProcessCpuTime();

        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(1, new Configuration());
        StreamTableEnvironment tEnv = StreamTableEnvironment.create(env);
        TypeInformation<Row> type = Types.ROW_NAMED(new String[] {"id", "features"}, Types.LONG,
                Types.OBJECT_ARRAY(Types.FLOAT));
        DataGeneratorSource<Row> source = new DataGeneratorSource<>(
                i -> Row.of(i, examples[(int) (i % examples.length)]), rows, RateLimiterStrategy.noOp(), type);
        tEnv.createTemporaryView("feature_rows",
                tEnv.fromDataStream(env.fromSource(source, WatermarkStrategy.noWatermarks(), "feature rows")));
        tEnv.executeSql("CREATE TEMPORARY MODEL next_event INPUT (features ARRAY<FLOAT>) "
                + "OUTPUT (label STRING, fallback BOOLEAN, fallback_reason STRING) "
                + "WITH ('provider' = 'flinkai', 'uri' = '" + model + "', " + options + ")");
        long fallbacks = 0;
        String reason = null;
        try (CloseableIterator<Row> it = tEnv.executeSql("SELECT id, fallback_reason FROM ML_PREDICT("
                + "TABLE feature_rows, MODEL next_event, DESCRIPTOR(features), "
                + "MAP['max-concurrent-operations', '" + capacity + "']) WHERE fallback").collect()) {
            while (it.hasNext()) {
                reason = it.next().getFieldAs("fallback_reason");
                fallbacks++;
            }
        }

        double wall = (System.nanoTime() - wall0) / 1e9;
        double cpu = (os.getProcessCpuTime() - cpu0) / 1e9;
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("options", options);
        r.put("rows", rows);
        r.put("fallbacks", fallbacks);
        r.put("a_fallback_reason", reason);
        r.put("wall_s", ModelLimitBench.round(wall, 3));
        r.put("process_cpu_s", ModelLimitBench.round(cpu, 3));
        r.put("rows_per_process_cpu_s", Math.round(rows / cpu));
        r.put("rows_per_s", Math.round(rows / wall));
        return r;
    }
}
