package dev.flinkai.operators.detectors;

import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The windows of one model version pooled into one measure: predictions and fallbacks summed (a rate over all of
 * them, each window weighted by its size), label counts summed, and the median of the p99 latencies of the windows
 * that measured one (one slow window does not make a version slow) with the median of their sampling errors.
 */
public record VersionSummary(String version, int windows, long predictions, long fallbacks, double latencyP99Millis,
                             double latencyP99ErrorMillis, Map<String, Long> labelCounts) {

    public static VersionSummary of(String version, Collection<WindowStats> windows) {
        long predictions = 0;
        long fallbacks = 0;
        Map<String, Long> labels = new HashMap<>();
        List<WindowStats> measured = windows.stream()
                .filter(w -> !Double.isNaN(Metric.LATENCY_P99.of(w, 1))).toList();
        double[] p99 = measured.stream().mapToDouble(WindowStats::latencyP99Millis).toArray();
        double[] p99Error = measured.stream()
                .mapToDouble(w -> Double.isNaN(w.latencyP99ErrorMillis()) ? 0 : w.latencyP99ErrorMillis()).toArray();
        for (WindowStats w : windows) {
            predictions += w.predictions();
            fallbacks += w.fallbacks();
            w.labelCounts().forEach((label, count) -> labels.merge(label, count, Long::sum));
        }
        return new VersionSummary(version, windows.size(), predictions, fallbacks,
                p99.length == 0 ? Double.NaN : AnomalyDetector.median(p99),
                p99.length == 0 ? Double.NaN : AnomalyDetector.median(p99Error), Map.copyOf(labels));
    }

    public double fallbackRate() {
        return predictions == 0 ? Double.NaN : (double) fallbacks / predictions;
    }

    /**
     * Total variation distance between the two versions' label distributions: half the sum of the absolute
     * differences of the labels' shares, 0 for the same distribution, 1 for ones with no label in common.
     */
    public double labelDistance(VersionSummary other) {
        long total = labelCounts.values().stream().mapToLong(Long::longValue).sum();
        long otherTotal = other.labelCounts.values().stream().mapToLong(Long::longValue).sum();
        if (total == 0 || otherTotal == 0) {
            return Double.NaN;
        }
        Map<String, Double> difference = new HashMap<>();
        labelCounts.forEach((label, count) -> difference.merge(label, (double) count / total, Double::sum));
        other.labelCounts.forEach((label, count) -> difference.merge(label, -(double) count / otherTotal, Double::sum));
        return difference.values().stream().mapToDouble(Math::abs).sum() / 2;
    }
}
