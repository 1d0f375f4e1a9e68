package dev.flinkai.operators.testing;

import dev.flinkai.operators.inference.djl.BatchScorer;

/**
 * A real scorer with a step in front of every call, so tests and benchmarks can count, hold or break calls to the real
 * model. Closing it closes the real scorer.
 */
public final class InterceptedScorer implements BatchScorer {

    /** Runs instead of {@code real.score(batch)}; usually does something, then calls it. */
    public interface Interceptor {
        float[][] score(float[][] batch, BatchScorer real) throws Exception;
    }

    private final BatchScorer real;
    private final Interceptor interceptor;

    public InterceptedScorer(BatchScorer real, Interceptor interceptor) {
        this.real = real;
        this.interceptor = interceptor;
    }

    @Override
    public float[][] score(float[][] batch) throws Exception {
        return interceptor.score(batch, real);
    }

    @Override
    public void close() {
        real.close();
    }
}
