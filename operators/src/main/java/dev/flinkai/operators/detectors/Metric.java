package dev.flinkai.operators.detectors;

import java.util.function.ToDoubleFunction;

/**
 * A number the detectors watch in each window, with the direction that is bad for users: an alert on latency going
 * down or traffic going up would be noise. A rate is only measured when its window had enough samples: 1 failed
 * task out of 3 is no 33 % error rate anyone should be woken up for.
 */
public enum Metric {
    // Throughput is measured by every window that exists, however small.
    THROUGHPUT("throughput", false, WindowStats::events, s -> Double.POSITIVE_INFINITY),
    LATENCY_P50("latencyP50", true, WindowStats::latencyP50Millis, WindowStats::events),
    LATENCY_P95("latencyP95", true, WindowStats::latencyP95Millis, WindowStats::events),
    LATENCY_P99("latencyP99", true, WindowStats::latencyP99Millis, WindowStats::events),
    ERROR_RATE("errorRate", true, s -> ratio(s.taskFailures(), s.taskOutcomes()), WindowStats::taskOutcomes),
    FALLBACK_RATE("fallbackRate", true, s -> ratio(s.fallbacks(), s.predictions()), WindowStats::predictions),
    PIPELINE_P99("pipelineP99", true, WindowStats::pipelineP99Millis, WindowStats::predictions),
    DEAD_LETTER_RATE("deadLetterRate", true, s -> ratio(s.deadLetters(), s.events()), WindowStats::events);

    /** The name in alert keys and settings. */
    public final String id;
    /** True when a higher value is worse. */
    public final boolean higherIsWorse;
    private final ToDoubleFunction<WindowStats> value;
    private final ToDoubleFunction<WindowStats> samples;

    Metric(String id, boolean higherIsWorse, ToDoubleFunction<WindowStats> value, ToDoubleFunction<WindowStats> samples) {
        this.id = id;
        this.higherIsWorse = higherIsWorse;
        this.value = value;
        this.samples = samples;
    }

    /** The window's value, or {@code NaN} when it was not measured on at least {@code minSamples} samples. */
    public double of(WindowStats stats, long minSamples) {
        return samples.applyAsDouble(stats) < minSamples ? Double.NaN : value.applyAsDouble(stats);
    }

    /** How much worse {@code value} is than {@code reference}: positive when worse, in the metric's unit. */
    public double worseBy(double value, double reference) {
        return higherIsWorse ? value - reference : reference - value;
    }

    public static Metric byId(String id) {
        for (Metric m : values()) {
            if (m.id.equals(id)) {
                return m;
            }
        }
        throw new IllegalArgumentException("Unknown metric '" + id + "'");
    }

    private static double ratio(long part, long whole) {
        return whole == 0 ? Double.NaN : (double) part / whole;
    }
}
