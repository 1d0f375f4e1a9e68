package dev.flinkai.udfs.functions;

import dev.flinkai.operators.inference.ModelMetadata;

import org.apache.flink.table.functions.ScalarFunction;

/** {@code TOP_PROBABILITY(scores)}: the highest score, i.e. the probability of {@code TOP_LABEL}; null for none. */
public class TopProbability extends ScalarFunction {
    private static final long serialVersionUID = 1L;

    public Float eval(Float[] scores) {
        int best = argmax(scores);
        return best < 0 ? null : scores[best];
    }

    /** {@link ModelMetadata#argmax} over the SQL array; -1 for null or empty, a null score fails the query. */
    static int argmax(Float[] scores) {
        if (scores == null || scores.length == 0) {
            return -1;
        }
        float[] values = new float[scores.length];
        for (int i = 0; i < scores.length; i++) {
            if (scores[i] == null) {
                throw new IllegalArgumentException("scores[" + (i + 1) + "] is null");
            }
            values[i] = scores[i];
        }
        return ModelMetadata.argmax(values);
    }
}
