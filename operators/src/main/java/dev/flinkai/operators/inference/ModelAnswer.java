package dev.flinkai.operators.inference;

/**
 * What a {@link ModelClient} answered for a batch: class probabilities per row, the model that computed them and where
 * it ran, and, when that was not the client's own model (a decorator fell back to another one), why.
 *
 * @param scores         {@code [rows][classCount]} in the order of {@code model.labels()}
 * @param servedBy       where the model ran: {@link #REMOTE} or {@link #LOCAL}
 * @param fallbackReason null when the client's own model answered
 */
public record ModelAnswer(float[][] scores, ModelMetadata model, String servedBy, String fallbackReason) {

    /** A model endpoint over the network. */
    public static final String REMOTE = "remote";
    /** The in-process model. */
    public static final String LOCAL = "local";
    /** No model: the class priors (set by the inference function, never by a client). */
    public static final String PRIORS = "priors";

    public ModelAnswer withFallbackReason(String reason) {
        return new ModelAnswer(scores, model, servedBy, reason);
    }
}
