package dev.flinkai.operators.detectors;

import dev.flinkai.schemas.AlertKind;

import java.io.Serializable;
import java.util.Arrays;
import java.util.Optional;
import java.util.function.DoubleUnaryOperator;

/**
 * A window far from its series' own recent past, by a robust z-score: the distance from the median of the previous
 * windows in units of their median absolute deviation (scaled by 1.4826 to match a standard deviation on normal
 * data). Median and MAD, unlike mean and standard deviation, are not dragged along by the spike itself or by a few
 * earlier outliers. Only the direction that hurts users fires.
 *
 * <p>A perfectly steady series has a MAD of zero and would make any wobble infinitely anomalous, and ten windows'
 * MAD often underestimates the noise, so the scale has floors: a fraction of the median, an absolute amount per metric
 * (the smallest change worth an alert) and the value's own sampling error in this window (for a rate: 36 failures in
 * 50 tasks is no news against a usual 58 %; for a p99: the spread of the order statistics around it). Without
 * {@code minHistory} previous windows a series has no past to compare with and never fires.
 */
public final class AnomalyDetector implements Serializable {
    private static final long serialVersionUID = 1L;

    /** MAD × 1.4826 estimates the standard deviation of normally distributed data. */
    static final double MAD_TO_SIGMA = 1.4826;

    private final int minHistory;
    private final double zLimit;
    private final double relativeFloor;

    /**
     * @param minHistory    previous windows needed before it may fire
     * @param zLimit        robust z-score beyond which a window is anomalous
     * @param relativeFloor smallest scale as a fraction of the median
     */
    public AnomalyDetector(int minHistory, double zLimit, double relativeFloor) {
        if (minHistory < 3) {
            throw new IllegalArgumentException("minHistory must be at least 3 windows, was " + minHistory);
        }
        this.minHistory = minHistory;
        this.zLimit = zLimit;
        this.relativeFloor = relativeFloor;
    }

    /**
     * @param history       the metric in the previous windows (measured ones only), in any order
     * @param value         this window's value, {@code NaN} when not measured (never fires)
     * @param samplingError the value's sampling error in this window, given the series' typical value (the median)
     * @param absoluteFloor smallest scale in the metric's unit
     */
    public Optional<Finding> check(String seriesKey, Metric metric, double[] history, double value,
                                   DoubleUnaryOperator samplingError, double absoluteFloor) {
        if (Double.isNaN(value) || history.length < minHistory) {
            return Optional.empty();
        }
        double median = median(history);
        double[] deviations = new double[history.length];
        for (int i = 0; i < history.length; i++) {
            deviations[i] = Math.abs(history[i] - median);
        }
        double scale = Math.max(Math.max(MAD_TO_SIGMA * median(deviations), samplingError.applyAsDouble(median)),
                Math.max(relativeFloor * Math.abs(median), absoluteFloor));
        double z = metric.worseBy(value, median) / scale;
        if (z <= zLimit) {
            return Optional.empty();
        }
        return Optional.of(new Finding(AlertKind.ANOMALY, Finding.key(seriesKey, metric.id), metric.id, value, median,
                metric.id + " " + Format.value(metric, value) + " against a median of " + Format.value(metric, median)
                        + " over the last " + history.length + " windows (robust z " + Format.number(z) + " > "
                        + Format.number(zLimit) + ")"));
    }

    static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int mid = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
