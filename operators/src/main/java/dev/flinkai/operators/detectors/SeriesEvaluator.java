package dev.flinkai.operators.detectors;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * Runs every detector the settings ask for on one window of one feature and model version, against that version's
 * previous windows and, for a newer version, the version before it. Pure: the {@link DetectorFunction} keeps the
 * windows in its state and hands them in.
 */
public final class SeriesEvaluator implements Serializable {
    private static final long serialVersionUID = 1L;

    private final DetectorSettings settings;
    private final List<ThresholdDetector> thresholds = new ArrayList<>();
    private final AnomalyDetector anomaly;
    private final TrendDetector trend;
    private final RegressionDetector regression;

    public SeriesEvaluator(DetectorSettings settings) {
        this.settings = settings;
        settings.limits.forEach((metric, limit) -> thresholds.add(new ThresholdDetector(metric, limit)));
        anomaly = new AnomalyDetector(settings.anomalyMinHistory, settings.anomalyZLimit, settings.anomalyRelativeFloor);
        trend = new TrendDetector(settings.trendWindows, settings.trendHorizon, settings.trendMinFit);
        regression = new RegressionDetector(settings.regressionMaxFallbackIncrease,
                settings.regressionMaxLatencyIncrease, settings.regressionMaxLabelDistance,
                settings.regressionMinPredictions);
    }

    /**
     * @param history  the version's previous windows, oldest first
     * @param previous the windows of the version served before this one, or empty when there is none
     */
    public List<Finding> evaluate(Collection<WindowStats> history, WindowStats window, String previousVersion,
                                  Collection<WindowStats> previous) {
        String series = window.seriesKey();
        List<Finding> findings = new ArrayList<>();
        for (ThresholdDetector threshold : thresholds) {
            Metric metric = threshold.metric();
            double value = metric.of(window, settings.minSamples);
            if (Double.isNaN(value)) {
                continue;
            }
            threshold.check(series, value).ifPresent(findings::add);
            double[] earlier = measured(history, metric);
            double[] recent = Arrays.copyOf(earlier, earlier.length + 1);
            recent[earlier.length] = value;
            trend.check(series, metric, recent, threshold.limit()).ifPresent(findings::add);
        }
        for (Map.Entry<Metric, Double> watched : settings.anomalyFloors.entrySet()) {
            Metric metric = watched.getKey();
            anomaly.check(series, metric, measured(history, metric), metric.of(window, settings.minSamples),
                    typical -> metric.samplingError(window, typical), watched.getValue()).ifPresent(findings::add);
        }
        if (!previous.isEmpty()) {
            List<WindowStats> candidate = new ArrayList<>(history);
            candidate.add(window);
            findings.addAll(regression.check(window.feature(), VersionSummary.of(window.modelVersion(), candidate),
                    VersionSummary.of(previousVersion, previous)));
        }
        return findings;
    }

    private double[] measured(Collection<WindowStats> windows, Metric metric) {
        return windows.stream().mapToDouble(w -> metric.of(w, settings.minSamples)).filter(v -> !Double.isNaN(v)).toArray();
    }
}
