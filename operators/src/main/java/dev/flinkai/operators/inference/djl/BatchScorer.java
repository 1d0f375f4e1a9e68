package dev.flinkai.operators.inference.djl;

/**
 * A DJL predictor: scores a batch of feature rows ({@code [rows][featureCount]} in, {@code [rows][classCount]} class
 * probabilities out) on the calling thread. One instance is used by one thread at a time.
 */
public interface BatchScorer extends AutoCloseable {

    float[][] score(float[][] batch) throws Exception;

    @Override
    void close();
}
