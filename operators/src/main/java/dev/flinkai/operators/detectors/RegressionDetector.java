package dev.flinkai.operators.detectors;

import dev.flinkai.schemas.AlertKind;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/**
 * A new model version that serves worse than the one before it on the same feature: more fallbacks (by more than
 * {@code maxFallbackIncrease} percentage points), a slower p99 (by more than {@code maxLatencyIncrease} as a
 * fraction, and by more than twice the two p99s' combined sampling error), or a different label distribution (total
 * variation distance above {@code maxLabelDistance}: the new model predicts other things for the same traffic). Both
 * versions need {@code minPredictions} predictions before they are compared: the first minutes of a rollout are a
 * handful of predictions, and a p99 of a few hundred latencies moves by a quarter by chance.
 *
 * <p>The alert's key names both versions ({@code model=2.0.0,previous=1.0.0}), so the way back is in the alert.
 */
public final class RegressionDetector implements Serializable {
    private static final long serialVersionUID = 1L;

    public static final String LABELS = "labels";

    private final double maxFallbackIncrease;
    private final double maxLatencyIncrease;
    private final double maxLabelDistance;
    private final long minPredictions;

    public RegressionDetector(double maxFallbackIncrease, double maxLatencyIncrease, double maxLabelDistance,
                              long minPredictions) {
        this.maxFallbackIncrease = maxFallbackIncrease;
        this.maxLatencyIncrease = maxLatencyIncrease;
        this.maxLabelDistance = maxLabelDistance;
        this.minPredictions = minPredictions;
    }

    public List<Finding> check(String feature, VersionSummary candidate, VersionSummary previous) {
        String key = "feature=" + feature + ",model=" + candidate.version() + ",previous=" + previous.version();
        String versions = "model " + candidate.version() + " against " + previous.version() + ": ";
        List<Finding> findings = new ArrayList<>();
        if (candidate.predictions() >= minPredictions && previous.predictions() >= minPredictions) {
            double now = candidate.fallbackRate();
            double before = previous.fallbackRate();
            if (now - before > maxFallbackIncrease) {
                findings.add(new Finding(AlertKind.REGRESSION, Finding.key(key, Metric.FALLBACK_RATE.id),
                        Metric.FALLBACK_RATE.id, now, before, versions + "fallback rate " + Format.percent(now)
                        + " against " + Format.percent(before)));
            }
            double distance = candidate.labelDistance(previous);
            if (distance > maxLabelDistance) {
                findings.add(new Finding(AlertKind.REGRESSION, Finding.key(key, LABELS), LABELS, distance,
                        maxLabelDistance, versions + "predicted labels " + candidate.labelCounts() + " against "
                        + previous.labelCounts() + " (total variation distance " + Format.number(distance) + ")"));
            }
            double p99 = candidate.latencyP99Millis();
            double p99Before = previous.latencyP99Millis();
            double noise = 2 * Math.hypot(candidate.latencyP99ErrorMillis(), previous.latencyP99ErrorMillis());
            if (p99 > p99Before * (1 + maxLatencyIncrease) && p99 - p99Before > noise) {
                findings.add(new Finding(AlertKind.REGRESSION, Finding.key(key, Metric.LATENCY_P99.id),
                        Metric.LATENCY_P99.id, p99, p99Before, versions + "p99 latency "
                        + Format.value(Metric.LATENCY_P99, p99) + " against "
                        + Format.value(Metric.LATENCY_P99, p99Before)));
            }
        }
        return findings;
    }
}
