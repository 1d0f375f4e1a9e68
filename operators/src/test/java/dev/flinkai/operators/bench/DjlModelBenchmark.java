package dev.flinkai.operators.bench;

import dev.flinkai.operators.inference.djl.BatchScorer;
import dev.flinkai.operators.inference.djl.DjlModel;
import dev.flinkai.operators.inference.djl.ModelArtifacts;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * The committed model ({@code notebooks/model/next_event_mlp.pt}) through {@link DjlModel}, one predictor on the
 * benchmark thread, one PyTorch thread. Scores are nanoseconds per row: one model call of {@code N} rows counts as
 * {@code N} operations, so {@code rowsOf001} is the full per-call cost (the fixed DJL/JNI overhead) and the larger
 * batches show how it is amortised. Per-call cost = score x N.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class DjlModelBenchmark {

    private static final int VARIANTS = 8; // distinct batches per size, cycled

    private DjlModel scorer;
    private BatchScorer predictor;
    private float[][][] b1;
    private float[][][] b16;
    private float[][][] b64;
    private float[][][] b256;
    private int next;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        scorer = DjlModel.load(ModelArtifacts.fetch(BenchData.committedModel().toString(), null, null));
        predictor = scorer.newPredictor();
        BenchData.Sample[] samples = BenchData.samples(256 * VARIANTS, false);
        b1 = batches(samples, 1);
        b16 = batches(samples, 16);
        b64 = batches(samples, 64);
        b256 = batches(samples, 256);
    }

    private static float[][][] batches(BenchData.Sample[] samples, int size) {
        float[][][] out = new float[VARIANTS][size][];
        for (int v = 0; v < VARIANTS; v++) {
            for (int r = 0; r < size; r++) {
                out[v][r] = samples[v * size + r].features();
            }
        }
        return out;
    }

    private float[][] pick(float[][][] variants) {
        return variants[next++ & (VARIANTS - 1)];
    }

    @Benchmark
    @OperationsPerInvocation(1)
    public float[][] rowsOf001() throws Exception {
        return predictor.score(pick(b1));
    }

    @Benchmark
    @OperationsPerInvocation(16)
    public float[][] rowsOf016() throws Exception {
        return predictor.score(pick(b16));
    }

    @Benchmark
    @OperationsPerInvocation(64)
    public float[][] rowsOf064() throws Exception {
        return predictor.score(pick(b64));
    }

    @Benchmark
    @OperationsPerInvocation(256)
    public float[][] rowsOf256() throws Exception {
        return predictor.score(pick(b256));
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        predictor.close();
        scorer.close();
    }
}
