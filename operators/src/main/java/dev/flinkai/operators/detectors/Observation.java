package dev.flinkai.operators.detectors;

import dev.flinkai.schemas.DeadLetter;
import dev.flinkai.schemas.EventType;
import dev.flinkai.schemas.Prediction;
import dev.flinkai.schemas.UserEvent;

/**
 * One input record as the ops job counts it. For a user event: its feature, the model version that scored it
 * ({@link #UNSCORED} when no prediction came), the latency the user saw, its task outcome, what the model answered
 * and how long the pipeline took to answer. For a dead letter (a record the main job could not use): only its time.
 * A public-field POJO, so Flink serializes it without Kryo.
 */
public class Observation {
    /** The model version of an event no prediction was seen for. */
    public static final String UNSCORED = "none";
    /** The feature of an event that names none. */
    public static final String NO_FEATURE = "none";
    /** The feature and model version of the totals over every feature, which also count the dead letters. */
    public static final String ALL = "all";

    public String feature;
    public String modelVersion;
    public long eventTimeMillis;
    /** The latency the user saw; 0 when the event has none. */
    public int latencyMillis;
    public boolean taskOutcome;
    public boolean taskFailed;
    public boolean predicted;
    public boolean fallback;
    /** The predicted label; null when not predicted. */
    public String label;
    /** Prediction time minus the event's ingest time; -1 when not predicted. */
    public long pipelineLatencyMillis = -1;
    public boolean deadLetter;

    public Observation() {}

    /** {@code event} with what {@code prediction} (null: none came) said of it. */
    public static Observation of(UserEvent event, Prediction prediction) {
        Observation o = new Observation();
        o.feature = event.getFeature() == null ? NO_FEATURE : event.getFeature();
        o.eventTimeMillis = event.getEventTimeMillis();
        o.latencyMillis = event.getLatencyMillis();
        o.taskOutcome = event.getEventType() == EventType.TASK_OUTCOME && event.getSuccess() != null;
        o.taskFailed = o.taskOutcome && !event.getSuccess();
        o.predicted = prediction != null;
        o.modelVersion = o.predicted ? prediction.getModelVersion() : UNSCORED;
        o.fallback = o.predicted && prediction.getFallback();
        o.label = o.predicted ? prediction.getLabel() : null;
        if (o.predicted) {
            o.pipelineLatencyMillis = Math.max(0, prediction.getPredictTimeMillis() - prediction.getIngestTimeMillis());
        }
        return o;
    }

    /**
     * A record the main job sent to the dead letters, counted per source partition ({@link #feature}) before the
     * totals sum the partitions up.
     */
    public static Observation deadLetter(DeadLetter deadLetter) {
        Observation o = new Observation();
        o.feature = deadLetter.getSourceTopic() + "-" + deadLetter.getSourcePartition();
        o.modelVersion = ALL;
        o.eventTimeMillis = deadLetter.getFailedAtMillis();
        o.deadLetter = true;
        return o;
    }

    /** The series it belongs to: its feature served by its model version. */
    public String seriesKey() {
        return "feature=" + feature + ",model=" + modelVersion;
    }
}
