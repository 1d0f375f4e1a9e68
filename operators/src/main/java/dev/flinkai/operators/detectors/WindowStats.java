package dev.flinkai.operators.detectors;

import java.util.Map;
import java.util.Objects;

/**
 * What one event-time window saw of one assistant feature served by one model version: the input of the detectors.
 * Counts rather than rates, so windows can be pooled with their weights (a regression baseline) and a rate over too
 * few samples can be told apart from a measured zero. A latency is {@code NaN} when the window had none.
 * The totals over every feature ({@link Observation#ALL}) count events and dead letters only.
 *
 * @param labelCounts predictions per predicted label
 * @param pipelineP50Millis the pipeline's latency (prediction time - ingest time) of the window's predictions
 * @param deadLetters records the main job could not use (only the totals count them; {@code events} includes them)
 * @param latencyP99ErrorMillis how far the latency p99 may be off by sampling alone: a quarter of the spread of the
 *                              quantiles at ranks 0.99 ± 2 sqrt(0.99 × 0.01 / n), about one standard error, from
 *                              the sketch whatever the latencies' distribution
 */
public record WindowStats(String feature, String modelVersion, long windowEndMillis, long events,
                          double latencyP50Millis, double latencyP95Millis, double latencyP99Millis,
                          long taskOutcomes, long taskFailures, long predictions, long fallbacks,
                          Map<String, Long> labelCounts, double pipelineP50Millis, double pipelineP99Millis,
                          long deadLetters, double latencyP99ErrorMillis) {

    public WindowStats {
        Objects.requireNonNull(feature, "feature");
        Objects.requireNonNull(modelVersion, "modelVersion");
        labelCounts = Map.copyOf(labelCounts);
    }

    /** The series a feature's detectors watch, and the start of its alerts' condition keys. */
    public String seriesKey() {
        return "feature=" + feature + ",model=" + modelVersion;
    }
}
