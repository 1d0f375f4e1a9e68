package dev.flinkai.udfs.functions;

import dev.flinkai.operators.inference.ModelMetadata;

import org.apache.flink.table.functions.ScalarFunction;

/**
 * {@code TOP_LABEL(scores, labels)}: the label of the highest score, the way a {@code Prediction}'s label is chosen
 * (ties to the first). Null for null or empty scores; labels of another length than the scores fail the query.
 */
public class TopLabel extends ScalarFunction {
    private static final long serialVersionUID = 1L;

    public String eval(Float[] scores, String[] labels) {
        int best = TopProbability.argmax(scores);
        if (best < 0 || labels == null) {
            return null;
        }
        if (labels.length != scores.length) {
            throw new IllegalArgumentException("TOP_LABEL: " + scores.length + " scores but " + labels.length
                    + " labels");
        }
        return labels[best];
    }

    /** The class index, for rows without their labels: same choice as {@link ModelMetadata#argmax}. */
    public Integer eval(Float[] scores) {
        int best = TopProbability.argmax(scores);
        return best < 0 ? null : best;
    }
}
