package dev.flinkai.operators.detectors;

import java.io.Serializable;
import java.time.Duration;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;

/**
 * Everything the ops job's detectors are tuned by, with the platform's targets as the default limits. One object
 * so the job passes its settings to the {@link DetectorFunction} in one piece; built with {@link #builder()}.
 */
public final class DetectorSettings implements Serializable {
    private static final long serialVersionUID = 1L;

    /** Limits: a metric beyond its limit fires a THRESHOLD alert; a trend towards it fires a TREND alert. */
    final Map<Metric, Double> limits;
    /** The metrics watched for anomalies, each with the smallest change worth an alert (in the metric's unit). */
    final Map<Metric, Double> anomalyFloors;
    /** Samples a rate or a latency needs in a window to be measured at all. */
    final long minSamples;
    final int historyWindows;
    final int anomalyMinHistory;
    final double anomalyZLimit;
    final double anomalyRelativeFloor;
    final int trendWindows;
    final int trendHorizon;
    final double trendMinFit;
    final double regressionMaxFallbackIncrease;
    final double regressionMaxLatencyIncrease;
    final double regressionMaxLabelDistance;
    final long regressionMinPredictions;
    final int criticalAfter;
    final int resolveAfter;
    /** A model version without a window for this long has its alerts resolved (its history stays as a baseline). */
    final Duration staleAfter;
    /** A feature without a window for this long has its alerts resolved and its state dropped. */
    final Duration expireAfter;

    private DetectorSettings(Builder b) {
        limits = Map.copyOf(b.limits);
        anomalyFloors = Map.copyOf(b.anomalyFloors);
        minSamples = b.minSamples;
        historyWindows = b.historyWindows;
        anomalyMinHistory = b.anomalyMinHistory;
        anomalyZLimit = b.anomalyZLimit;
        anomalyRelativeFloor = b.anomalyRelativeFloor;
        trendWindows = b.trendWindows;
        trendHorizon = b.trendHorizon;
        trendMinFit = b.trendMinFit;
        regressionMaxFallbackIncrease = b.regressionMaxFallbackIncrease;
        regressionMaxLatencyIncrease = b.regressionMaxLatencyIncrease;
        regressionMaxLabelDistance = b.regressionMaxLabelDistance;
        regressionMinPredictions = b.regressionMinPredictions;
        criticalAfter = b.criticalAfter;
        resolveAfter = b.resolveAfter;
        staleAfter = b.staleAfter;
        expireAfter = b.expireAfter;
        if (historyWindows < Math.max(anomalyMinHistory, trendWindows)) {
            throw new IllegalArgumentException("historyWindows (" + historyWindows + ") must cover anomalyMinHistory ("
                    + anomalyMinHistory + ") and trendWindows (" + trendWindows + ")");
        }
        if (expireAfter.compareTo(staleAfter) <= 0) {
            throw new IllegalArgumentException("expireAfter (" + expireAfter + ") must be longer than staleAfter ("
                    + staleAfter + ")");
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The defaults: see each setter. */
    public static final class Builder {
        private final Map<Metric, Double> limits = new EnumMap<>(Map.of(
                Metric.LATENCY_P99, 1_000.0, Metric.ERROR_RATE, 0.001, Metric.FALLBACK_RATE, 0.05,
                Metric.DEAD_LETTER_RATE, 0.01));
        private final Map<Metric, Double> anomalyFloors = new EnumMap<>(Map.of(
                Metric.THROUGHPUT, 5.0, Metric.LATENCY_P99, 20.0, Metric.ERROR_RATE, 0.005, Metric.FALLBACK_RATE, 0.01));
        private long minSamples = 20;
        private int historyWindows = 30;
        private int anomalyMinHistory = 10;
        private double anomalyZLimit = 4.0;
        private double anomalyRelativeFloor = 0.05;
        private int trendWindows = 10;
        private int trendHorizon = 5;
        private double trendMinFit = 0.8;
        private double regressionMaxFallbackIncrease = 0.02;
        private double regressionMaxLatencyIncrease = 0.25;
        private double regressionMaxLabelDistance = 0.15;
        private long regressionMinPredictions = 200;
        private int criticalAfter = 3;
        private int resolveAfter = 1;
        private Duration staleAfter = Duration.ofMinutes(5);
        private Duration expireAfter = Duration.ofMinutes(30);

        /**
         * Default: latencyP99 1,000 ms, errorRate 0.001, fallbackRate 0.05, deadLetterRate 0.01 (upper limits;
         * throughput a lower one).
         */
        public Builder limit(Metric metric, double limit) {
            limits.put(metric, limit);
            return this;
        }

        /**
         * Limits as the job's settings give them, e.g. {@code latencyP99=1000,errorRate=0.001}: these replace every
         * default limit; an empty text sets none.
         */
        public Builder limits(String spec) {
            limits.clear();
            parse(spec, "limits").forEach(limits::put);
            return this;
        }

        /** Anomaly floors as the job's settings give them, e.g. {@code latencyP99=20,throughput=5}: see {@link #limits}. */
        public Builder anomalyFloors(String spec) {
            anomalyFloors.clear();
            parse(spec, "anomaly floors").forEach(anomalyFloors::put);
            return this;
        }

        private static Map<Metric, Double> parse(String spec, String what) {
            Map<Metric, Double> parsed = new EnumMap<>(Metric.class);
            for (String pair : spec.split(",")) {
                if (pair.isBlank()) {
                    continue;
                }
                String[] parts = pair.split("=", 2);
                try {
                    parsed.put(Metric.byId(parts[0].trim()), Double.parseDouble(parts[1].trim()));
                } catch (RuntimeException e) {
                    throw new IllegalArgumentException("Invalid " + what + " '" + spec + "': each must be metric=number"
                            + " with a metric of " + Arrays.stream(Metric.values()).map(m -> m.id).toList(), e);
                }
            }
            return parsed;
        }

        /** Default: throughput 5 events, latencyP99 20 ms, errorRate 0.005, fallbackRate 0.01. */
        public Builder anomalyFloor(Metric metric, double floor) {
            anomalyFloors.put(metric, floor);
            return this;
        }

        /** Default 20. */
        public Builder minSamples(long samples) {
            minSamples = samples;
            return this;
        }

        /** Windows of each version kept for the anomaly, trend and regression detectors; default 30. */
        public Builder historyWindows(int windows) {
            historyWindows = windows;
            return this;
        }

        /** Defaults: 10 previous windows, robust z above 4, scale at least 5 % of the median. */
        public Builder anomaly(int minHistory, double zLimit, double relativeFloor) {
            anomalyMinHistory = minHistory;
            anomalyZLimit = zLimit;
            anomalyRelativeFloor = relativeFloor;
            return this;
        }

        /** Defaults: the line through the last 10 windows reaches the limit within 5 more, R² at least 0.8. */
        public Builder trend(int windows, int horizon, double minFit) {
            trendWindows = windows;
            trendHorizon = horizon;
            trendMinFit = minFit;
            return this;
        }

        /** Defaults: fallback rate up by 2 points, p99 up by 25 %, label distance above 0.15, 200 predictions each. */
        public Builder regression(double maxFallbackIncrease, double maxLatencyIncrease, double maxLabelDistance,
                                  long minPredictions) {
            regressionMaxFallbackIncrease = maxFallbackIncrease;
            regressionMaxLatencyIncrease = maxLatencyIncrease;
            regressionMaxLabelDistance = maxLabelDistance;
            regressionMinPredictions = minPredictions;
            return this;
        }

        /** Defaults: CRITICAL after 3 firing windows in a row, RESOLVED after 1 clear window. */
        public Builder escalation(int criticalAfter, int resolveAfter) {
            this.criticalAfter = criticalAfter;
            this.resolveAfter = resolveAfter;
            return this;
        }

        /** Defaults: a version is stale after 5 minutes without a window, a feature expires after 30. */
        public Builder expiry(Duration staleAfter, Duration expireAfter) {
            this.staleAfter = staleAfter;
            this.expireAfter = expireAfter;
            return this;
        }

        public DetectorSettings build() {
            return new DetectorSettings(this);
        }
    }
}
