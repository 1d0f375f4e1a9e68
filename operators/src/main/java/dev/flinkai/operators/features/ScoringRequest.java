package dev.flinkai.operators.features;

import dev.flinkai.schemas.ModelUpdate;

/**
 * One event ready to be scored: its features plus what the prediction must carry back. Or, on the same path so that
 * every scoring subtask gets it, a control message: a model version to serve ({@link #control}).
 */
public class ScoringRequest {
    public String eventId;
    public String userId;
    public int priority;
    public long eventTimeMillis;
    /** When the event entered the pipeline (its Kafka record timestamp); kept for end-to-end latency. */
    public long ingestTimeMillis;
    public float[] features;
    /** The user's events in the context, this one included (1, 2, ...); 0 where no context was kept. */
    public long contextEvents;
    /** Not an event but a control message: the model version to serve (null for an event). */
    public ModelUpdate modelUpdate;

    public ScoringRequest() {}

    public ScoringRequest(String eventId, String userId, int priority, long eventTimeMillis, long ingestTimeMillis, float[] features) {
        this.eventId = eventId;
        this.userId = userId;
        this.priority = priority;
        this.eventTimeMillis = eventTimeMillis;
        this.ingestTimeMillis = ingestTimeMillis;
        this.features = features;
    }

    public ScoringRequest(String eventId, String userId, int priority, long eventTimeMillis, long ingestTimeMillis,
                          float[] features, long contextEvents) {
        this(eventId, userId, priority, eventTimeMillis, ingestTimeMillis, features);
        this.contextEvents = contextEvents;
    }

    /** A control message asking the scoring operator to serve {@code update}. */
    public static ScoringRequest control(ModelUpdate update) {
        ScoringRequest r = new ScoringRequest();
        r.modelUpdate = update;
        return r;
    }

    public boolean isControl() {
        return modelUpdate != null;
    }

    @Override
    public String toString() {
        return isControl() ? "ScoringRequest{control: " + modelUpdate.getModelName() + " " + modelUpdate.getVersion() + "}"
                : "ScoringRequest{" + eventId + ", user " + userId + "}";
    }
}
