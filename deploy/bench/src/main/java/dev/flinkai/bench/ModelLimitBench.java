package dev.flinkai.bench;

import dev.flinkai.operators.inference.djl.BatchScorer;
import dev.flinkai.operators.inference.djl.DjlModel;
import dev.flinkai.operators.inference.djl.ModelArtifacts;
import dev.flinkai.operators.simulation.LabelledExamples;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Benchmark baseline "limit_model": raw DJL inference, no Flink. Loads the TorchScript model with {@link DjlModel},
 * builds real feature rows with the job's own context and feature code ({@link LabelledExamples}), then scores batches
 * of {@code --batch} rows in this one thread for {@code --seconds} (after a warm-up), and prints one JSON line:
 * rows per CPU-second of this thread ({@code ThreadMXBean.getCurrentThreadCpuTime}) and of the whole process, and
 * rows per wall second. {@code --also-batch 1} adds the same measurement at another batch size (e.g. the naive job's).
 *
 * <pre>
 * java -Dai.djl.offline=true -Dai.djl.pytorch.num_threads=1 -Dai.djl.pytorch.num_interop_threads=1 \
 *   -cp 'flink-ai-bench.jar:deploy/local/.cache/cluster/lib/*' dev.flinkai.bench.ModelLimitBench \
 *   --model notebooks/model/next_event_mlp.pt [--batch 64] [--seconds 10] [--warmup-seconds 3] [--also-batch 1]
 * </pre>
 */
public final class ModelLimitBench {

    private ModelLimitBench() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> a = BenchArgs.parse(args);
        String modelPath = BenchArgs.get(a, "model", "notebooks/model/next_event_mlp.pt");
        int batch = Integer.parseInt(BenchArgs.get(a, "batch", "64"));
        double seconds = Double.parseDouble(BenchArgs.get(a, "seconds", "10"));
        double warmup = Double.parseDouble(BenchArgs.get(a, "warmup-seconds", "3"));
        int alsoBatch = Integer.parseInt(BenchArgs.get(a, "also-batch", "0"));
        int exampleCount = Integer.parseInt(BenchArgs.get(a, "rows", "65536"));

        List<float[]> rows = new ArrayList<>(exampleCount);
        LabelledExamples.generate(7, 20_000, 0.8, exampleCount + 50_000, (features, next) -> {
            if (rows.size() < exampleCount) {
                rows.add(features.clone());
            }
        });
        float[][] all = rows.toArray(new float[0][]);

        DjlModel.configureEngineDefaults();
        long loadStart = System.nanoTime();
        try (DjlModel model = DjlModel.load(ModelArtifacts.fetch(modelPath, null, null))) {
            double loadSeconds = (System.nanoTime() - loadStart) / 1e9;
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("model", modelPath);
            out.put("model_version", model.metadata().version());
            out.put("feature_rows", all.length);
            out.put("load_s", round(loadSeconds, 3));
            out.put("pytorch_num_threads", System.getProperty("ai.djl.pytorch.num_threads"));
            Map<String, Object> main = measure(model, all, batch, warmup, seconds);
            out.putAll(main);
            if (alsoBatch > 0 && alsoBatch != batch) {
                out.put("batch_" + alsoBatch, measure(model, all, alsoBatch, warmup, seconds));
            }
            System.out.println(BenchArgs.toJson(out));
        }
    }

    private static Map<String, Object> measure(DjlModel model, float[][] all, int batch, double warmupSeconds,
                                               double seconds) throws Exception {
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        com.sun.management.OperatingSystemMXBean os =
                (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        float[][][] batches = new float[Math.max(1, all.length / batch)][][];
        for (int b = 0; b < batches.length; b++) {
            batches[b] = new float[batch][];
            for (int i = 0; i < batch; i++) {
                batches[b][i] = all[(b * batch + i) % all.length];
            }
        }
        double checksum = 0;
        try (BatchScorer predictor = model.newPredictor()) {
            long warmEnd = System.nanoTime() + (long) (warmupSeconds * 1e9);
            int b = 0;
            while (System.nanoTime() < warmEnd) {
                checksum += predictor.score(batches[b++ % batches.length])[0][0];
            }
            long rowsDone = 0;
            long calls = 0;
            long wall0 = System.nanoTime();
            long thread0 = threads.getCurrentThreadCpuTime();
            long process0 = os.getProcessCpuTime();
            long end = wall0 + (long) (seconds * 1e9);
            while (System.nanoTime() < end) {
                for (int k = 0; k < 16; k++) {
                    checksum += predictor.score(batches[b++ % batches.length])[0][0];
                    rowsDone += batch;
                    calls++;
                }
            }
            double wall = (System.nanoTime() - wall0) / 1e9;
            double threadCpu = (threads.getCurrentThreadCpuTime() - thread0) / 1e9;
            double processCpu = (os.getProcessCpuTime() - process0) / 1e9;
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("batch_size", batch);
            r.put("rows", rowsDone);
            r.put("calls", calls);
            r.put("wall_s", round(wall, 3));
            r.put("thread_cpu_s", round(threadCpu, 3));
            r.put("process_cpu_s", round(processCpu, 3));
            r.put("rows_per_cpu_s", Math.round(rowsDone / threadCpu));
            r.put("rows_per_process_cpu_s", Math.round(rowsDone / processCpu));
            r.put("rows_per_s", Math.round(rowsDone / wall));
            r.put("us_per_call", round(wall * 1e6 / calls, 2));
            r.put("checksum", round(checksum, 3));
            return r;
        }
    }

    static double round(double v, int digits) {
        return Double.parseDouble(String.format(Locale.ROOT, "%." + digits + "f", v));
    }
}
