package dev.flinkai.operators.detectors;

import java.util.function.ToDoubleFunction;

/**
 * A number the detectors watch in each window, with the direction that is bad for users: an alert on latency going
 * down or traffic going up would be noise. A rate is only measured when its window had enough samples: 1 failed
 * task out of 3 is no 33 % error rate anyone should be woken up for; a p99 needs at least 100 latencies, or it is
 * only the window's largest.
 */
public enum Metric {
    // Throughput is measured by every window that exists, however small.
    THROUGHPUT("throughput", false, WindowStats::events, s -> Double.POSITIVE_INFINITY, 0, false),
    LATENCY_P50("latencyP50", true, WindowStats::latencyP50Millis, WindowStats::events, 0, false),
    LATENCY_P95("latencyP95", true, WindowStats::latencyP95Millis, WindowStats::events, 20, false),
    LATENCY_P99("latencyP99", true, WindowStats::latencyP99Millis, WindowStats::events, 100, false),
    ERROR_RATE("errorRate", true, s -> ratio(s.taskFailures(), s.taskOutcomes()), WindowStats::taskOutcomes, 0,
            true),
    FALLBACK_RATE("fallbackRate", true, s -> ratio(s.fallbacks(), s.predictions()), WindowStats::predictions, 0,
            true),
    PIPELINE_P99("pipelineP99", true, WindowStats::pipelineP99Millis, WindowStats::predictions, 100, false),
    DEAD_LETTER_RATE("deadLetterRate", true, s -> ratio(s.deadLetters(), s.events()), WindowStats::events, 0, true);

    /** The name in alert keys and settings. */
    public final String id;
    /** True when a higher value is worse. */
    public final boolean higherIsWorse;
    private final ToDoubleFunction<WindowStats> value;
    private final ToDoubleFunction<WindowStats> samples;
    /** Samples the metric needs whatever the setting: a quantile q needs 1 / (1 - q) to be more than the maximum. */
    private final long ownMinSamples;
    /** A fraction of its samples: a proportion with binomial sampling error. */
    private final boolean rate;

    Metric(String id, boolean higherIsWorse, ToDoubleFunction<WindowStats> value, ToDoubleFunction<WindowStats> samples,
           long ownMinSamples, boolean rate) {
        this.id = id;
        this.higherIsWorse = higherIsWorse;
        this.value = value;
        this.samples = samples;
        this.ownMinSamples = ownMinSamples;
        this.rate = rate;
    }

    /** The window's value, or {@code NaN} when it was not measured on enough samples (at least {@code minSamples}). */
    public double of(WindowStats stats, long minSamples) {
        return samples.applyAsDouble(stats) < Math.max(minSamples, ownMinSamples) ? Double.NaN : value.applyAsDouble(stats);
    }

    /**
     * About the standard error that sampling alone gives this metric in {@code window} when its true value is
     * {@code typical}: for a rate the binomial one, sqrt(p (1 - p) / n); for the latency p99 the window's own
     * ({@link WindowStats#latencyP99ErrorMillis}); 0 for the others. A change within a few of these is chance, not news.
     */
    public double samplingError(WindowStats window, double typical) {
        if (this == LATENCY_P99) {
            return Double.isNaN(window.latencyP99ErrorMillis()) ? 0 : window.latencyP99ErrorMillis();
        }
        double n = samples.applyAsDouble(window);
        if (!rate || !(n > 0)) {
            return 0;
        }
        double p = Math.min(1, Math.max(0, typical));
        return Math.sqrt(p * (1 - p) / n);
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
