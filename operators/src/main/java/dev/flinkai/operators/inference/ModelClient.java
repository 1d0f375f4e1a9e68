package dev.flinkai.operators.inference;

import java.util.concurrent.CompletableFuture;

/**
 * The model-client seam: feature rows in, class probabilities out, asynchronously, one call per micro-batch.
 * Everything that scores (the inference operator, the SQL functions) knows only this interface. Backends implement
 * it (in-process DJL, a remote endpoint) and decorators wrap it (retries, circuit breaker, rate limit, result cache),
 * so a decorator must keep the contract below.
 *
 * <p>Thread-safe: {@link #score} may be called from any thread, also concurrently, and its future may complete on
 * any thread. {@link #score} itself never throws: every failure completes the future exceptionally.
 */
public interface ModelClient extends AutoCloseable {

    /** The model this client scores with: name, version, labels, feature count, class priors. */
    ModelMetadata metadata();

    /**
     * Scores {@code rows} ({@code [n][featureCount]}). The answer holds one row of class probabilities per input row,
     * in order. Cancelling the returned future says the answer is no longer wanted: a backend skips work it has not
     * started.
     *
     * @param deadlineNanos the {@link System#nanoTime()} after which the answer is of no use: a client may give up or
     *                      stop retrying then
     */
    CompletableFuture<ModelAnswer> score(float[][] rows, long deadlineNanos);

    @Override
    void close();
}
