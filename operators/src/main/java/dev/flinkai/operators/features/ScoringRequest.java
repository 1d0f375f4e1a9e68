package dev.flinkai.operators.features;

/**
 * One event ready to be scored: its features plus what the prediction must carry back. A Flink POJO (public fields,
 * no-arg constructor) so it travels between operators without Kryo.
 */
public class ScoringRequest {
    public String eventId;
    public String userId;
    public int priority;
    public long eventTimeMillis;
    /** When the event entered the pipeline (its Kafka record timestamp); kept for end-to-end latency. */
    public long ingestTimeMillis;
    public float[] features;

    public ScoringRequest() {}

    public ScoringRequest(String eventId, String userId, int priority, long eventTimeMillis, long ingestTimeMillis, float[] features) {
        this.eventId = eventId;
        this.userId = userId;
        this.priority = priority;
        this.eventTimeMillis = eventTimeMillis;
        this.ingestTimeMillis = ingestTimeMillis;
        this.features = features;
    }

    @Override
    public String toString() {
        return "ScoringRequest{" + eventId + ", user " + userId + "}";
    }
}
