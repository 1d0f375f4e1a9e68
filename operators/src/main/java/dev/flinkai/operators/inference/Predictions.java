package dev.flinkai.operators.inference;

import dev.flinkai.operators.features.ScoringRequest;
import dev.flinkai.schemas.Prediction;

import java.util.ArrayList;
import java.util.List;

/** How every scoring function turns a model's answer, or the lack of one, into a {@link Prediction}. */
public final class Predictions {

    private Predictions() {}

    /**
     * A model's scores. {@code servedBy} says where the model ran ({@link ModelAnswer}); {@code fallbackReason} is
     * non-null when not the serving model answered.
     */
    public static Prediction scored(ScoringRequest request, float[] scores, ModelMetadata model, String servedBy,
                                    String fallbackReason, long nowMillis) {
        return new Prediction(request.eventId, request.userId, model.name(), model.version(), toList(scores),
                model.labels().get(ModelMetadata.argmax(scores)), fallbackReason != null, fallbackReason,
                request.eventTimeMillis, request.ingestTimeMillis, nowMillis, servedBy,
                request.contextEvents > 0 ? request.contextEvents : null);
    }

    /** The answer when no model could give one: the serving model's class priors, flagged, with the reason. */
    public static Prediction priors(ScoringRequest request, ModelMetadata model, String reason) {
        return scored(request, model.classPriors(), model, ModelAnswer.PRIORS, reason, System.currentTimeMillis());
    }

    /** Null when the request can be scored by {@code model}, else why not. */
    public static String invalidFeatures(ScoringRequest request, ModelMetadata model) {
        if (request.features != null && request.features.length >= model.featureCount()) {
            return null; // a model of fewer features reads the first ones
        }
        return "invalid features: expected at least " + model.featureCount() + " values, got "
                + (request.features == null ? "none" : request.features.length);
    }

    /**
     * A one-line description of a failure: the root cause's type and the most telling line of its message (for a
     * TorchScript failure the final "RuntimeError: ..." line rather than the traceback).
     */
    public static String describe(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String message = root.getMessage() == null ? "" : root.getMessage().strip();
        String[] lines = message.split("\\R");
        String line = lines.length == 0 ? "" : lines[0].strip();
        for (int i = lines.length - 1; i > 0; i--) {
            if (lines[i].matches("^\\s*\\w*(Error|Exception): .*")) {
                line = lines[i].strip();
                break;
            }
        }
        String text = root.getClass().getSimpleName() + (line.isEmpty() ? "" : ": " + line);
        return text.length() > 300 ? text.substring(0, 300) + "..." : text;
    }

    private static List<Float> toList(float[] values) {
        List<Float> list = new ArrayList<>(values.length);
        for (float v : values) {
            list.add(v);
        }
        return list;
    }
}
