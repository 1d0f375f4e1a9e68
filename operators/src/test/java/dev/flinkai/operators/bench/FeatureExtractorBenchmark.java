package dev.flinkai.operators.bench;

import dev.flinkai.operators.features.FeatureExtractor;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * {@link FeatureExtractor#extract}: (context, event) to float[32], over realistic contexts of the simulated population
 * (mostly warm users, some new ones), cycling through 4096 pre-generated samples.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class FeatureExtractorBenchmark {

    private static final int SAMPLES = 4096;
    private static final int MASK = SAMPLES - 1;

    private BenchData.Sample[] samples;
    private final float[] out = new float[FeatureExtractor.FEATURE_COUNT];
    private int next;

    @Setup(Level.Trial)
    public void setUp() {
        samples = BenchData.samples(SAMPLES, false);
    }

    /** Into a reused array. */
    @Benchmark
    public float[] extractInto() {
        BenchData.Sample s = samples[next++ & MASK];
        FeatureExtractor.extract(s.context(), s.event(), out);
        return out;
    }

    /** Allocating a new array, as UserContextOperator does (the array travels on in the ScoringRequest). */
    @Benchmark
    public float[] extractNew() {
        BenchData.Sample s = samples[next++ & MASK];
        return FeatureExtractor.extract(s.context(), s.event());
    }
}
