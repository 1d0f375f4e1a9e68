package dev.flinkai.operators.inference;

/**
 * What a {@link ModelClient} answered for a batch: class probabilities per row, the model that computed them and,
 * when that was not the client's own model (a decorator fell back to another one), why.
 *
 * @param scores         {@code [rows][classCount]} in the order of {@code model.labels()}
 * @param fallbackReason null when the client's own model answered
 */
public record ModelAnswer(float[][] scores, ModelMetadata model, String fallbackReason) {

    public static ModelAnswer of(float[][] scores, ModelMetadata model) {
        return new ModelAnswer(scores, model, null);
    }
}
