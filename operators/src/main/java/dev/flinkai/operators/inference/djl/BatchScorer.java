package dev.flinkai.operators.inference;

/**
 * Scores a batch of feature rows: {@code [rows][featureCount]} in, {@code [rows][classCount]} class probabilities out.
 * One instance is used by one thread at a time.
 */
public interface BatchScorer extends AutoCloseable {

    float[][] score(float[][] batch) throws Exception;

    @Override
    void close();
}
