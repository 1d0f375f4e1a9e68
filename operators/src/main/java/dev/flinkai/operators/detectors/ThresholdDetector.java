package dev.flinkai.operators.detectors;

import dev.flinkai.schemas.AlertKind;

import java.io.Serializable;
import java.util.Optional;

/** A configured limit of one metric (the platform's target, e.g. p99 latency below 1,000 ms): fires beyond it. */
public final class ThresholdDetector implements Serializable {
    private static final long serialVersionUID = 1L;

    private final Metric metric;
    private final double limit;

    public ThresholdDetector(Metric metric, double limit) {
        this.metric = metric;
        this.limit = limit;
    }

    public Metric metric() {
        return metric;
    }

    public double limit() {
        return limit;
    }

    /** @param value the window's value, {@code NaN} when not measured (never fires) */
    public Optional<Finding> check(String seriesKey, double value) {
        if (Double.isNaN(value) || metric.worseBy(value, limit) <= 0) {
            return Optional.empty();
        }
        return Optional.of(new Finding(AlertKind.THRESHOLD, Finding.key(seriesKey, metric.id), metric.id, value, limit,
                metric.id + " " + Format.value(metric, value) + (metric.higherIsWorse ? " above" : " below")
                        + " the limit " + Format.value(metric, limit)));
    }
}
