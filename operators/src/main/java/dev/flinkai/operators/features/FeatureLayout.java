package dev.flinkai.operators.features;

import dev.flinkai.operators.inference.ModelMetadata;

import java.io.Serializable;
import java.util.Arrays;

/**
 * The width of the feature rows a job's requests carry, and the feature counts a model may take: a model of fewer
 * features than the rows reads the first ones of each row, so a model trained before a block of features was appended
 * keeps working.
 *
 * @param width       features per request
 * @param modelWidths the feature counts a model may take, each a prefix of the rows (the last is {@code width})
 * @param description how the width comes about, for messages about a model that does not fit
 */
public record FeatureLayout(int width, int[] modelWidths, String description) implements Serializable {

    /** Rows of {@code width} features that any model of that width fits: for tests and single-block jobs. */
    public static FeatureLayout of(int width) {
        return new FeatureLayout(width, new int[] {width}, width + " features");
    }

    public boolean fits(int modelFeatureCount) {
        return Arrays.stream(modelWidths).anyMatch(w -> w == modelFeatureCount);
    }

    /**
     * Refuses a model that takes another number of features than a prefix of this layout, naming both: the job's
     * main, the inference operator's open and every model swap run it.
     */
    public void requireFits(ModelMetadata model) {
        if (!fits(model.featureCount())) {
            throw new IllegalStateException("The model " + model.name() + " " + model.version() + " takes "
                    + model.featureCount() + " features, but the job's features are " + description
                    + ": train the model on this build's features (notebooks/train_next_event_model.ipynb) or serve "
                    + "one that fits");
        }
    }
}
