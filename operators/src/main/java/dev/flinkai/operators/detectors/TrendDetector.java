package dev.flinkai.operators.detectors;

import dev.flinkai.schemas.AlertKind;

import java.io.Serializable;
import java.util.Optional;

/**
 * A metric still within its limit but heading for it: the least-squares line through the last {@code windows}
 * windows, continued for {@code horizon} more windows, crosses the limit. Warns before the threshold fires. A line
 * that explains the points poorly (coefficient of determination below {@code minFit}) is noise, not a trend, and
 * does not fire; nor does a metric already beyond its limit, which is the threshold's alert.
 */
public final class TrendDetector implements Serializable {
    private static final long serialVersionUID = 1L;

    private final int windows;
    private final int horizon;
    private final double minFit;

    /**
     * @param windows how many of the latest windows the line is fitted to (at least 3)
     * @param horizon how many windows ahead the crossing must be to fire
     * @param minFit  smallest R² (0..1) of the fitted line
     */
    public TrendDetector(int windows, int horizon, double minFit) {
        if (windows < 3 || horizon < 1) {
            throw new IllegalArgumentException("A trend needs at least 3 windows and a horizon of 1, was " + windows
                    + " and " + horizon);
        }
        this.windows = windows;
        this.horizon = horizon;
        this.minFit = minFit;
    }

    /**
     * @param recent the metric in the latest windows, oldest first, this window last (measured ones only)
     * @param limit  the metric's threshold
     */
    public Optional<Finding> check(String seriesKey, Metric metric, double[] recent, double limit) {
        if (recent.length < windows) {
            return Optional.empty();
        }
        int n = windows;
        int from = recent.length - n;
        double current = recent[recent.length - 1];
        if (metric.worseBy(current, limit) > 0) {
            return Optional.empty();
        }
        double meanX = (n - 1) / 2.0;
        double meanY = 0;
        for (int i = 0; i < n; i++) {
            meanY += recent[from + i];
        }
        meanY /= n;
        double sxx = 0;
        double sxy = 0;
        double syy = 0;
        for (int i = 0; i < n; i++) {
            double dx = i - meanX;
            double dy = recent[from + i] - meanY;
            sxx += dx * dx;
            sxy += dx * dy;
            syy += dy * dy;
        }
        double slope = sxy / sxx;
        double fit = syy == 0 ? 0 : sxy * sxy / (sxx * syy);
        double fittedNow = meanY + slope * (n - 1 - meanX);
        double projected = fittedNow + slope * horizon;
        if (metric.worseBy(slope, 0) <= 0 || fit < minFit || metric.worseBy(projected, limit) < 0) {
            return Optional.empty();
        }
        double windowsToLimit = Math.max(0, (limit - fittedNow) / slope);
        return Optional.of(new Finding(AlertKind.TREND, Finding.key(seriesKey, metric.id), metric.id, current, limit,
                metric.id + " at " + Format.value(metric, current) + " moves " + Format.value(metric, Math.abs(slope))
                        + " per window over the last " + n + " windows (R² " + Format.number(fit)
                        + "): reaches the limit " + Format.value(metric, limit) + " in about "
                        + Format.number(windowsToLimit) + " windows"));
    }
}
