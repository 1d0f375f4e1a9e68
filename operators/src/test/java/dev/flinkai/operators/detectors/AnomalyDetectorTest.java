package dev.flinkai.operators.detectors;

import dev.flinkai.schemas.AlertKind;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Map;
import java.util.function.DoubleUnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class AnomalyDetectorTest {

    private static final String SERIES = "feature=chat,model=1.0.0";
    /** Sorted: 97 98 99 100 100 100 100 101 102 103, median 100; deviations sorted 0 0 0 0 1 1 2 2 3 3, MAD 1. */
    private static final double[] HISTORY = {100, 102, 98, 101, 99, 100, 103, 97, 100, 100};

    private final AnomalyDetector detector = new AnomalyDetector(10, 4.0, 0.01);
    /** No sampling error: the history's spread and the floors alone scale. */
    private static final DoubleUnaryOperator EXACT = typical -> 0;

    /** Scale max(1.4826 × 1, 1 % of 100, floor 1) = 1.4826: 110 is z 6.74, 105 is z 3.37. */
    @Test
    void firesFarAboveTheMedianInUnitsOfTheMad() {
        Finding finding = detector.check(SERIES, Metric.LATENCY_P99, HISTORY, 110, EXACT, 1).orElseThrow();
        assertThat(finding.kind()).isEqualTo(AlertKind.ANOMALY);
        assertThat(finding.key()).isEqualTo("feature=chat,model=1.0.0,metric=latencyP99");
        assertThat(finding.value()).isEqualTo(110);
        assertThat(finding.reference()).isEqualTo(100);
        assertThat(finding.message()).isEqualTo(
                "latencyP99 110 ms against a median of 100 ms over the last 10 windows (robust z 6.74 > 4.00)");
        assertThat(detector.check(SERIES, Metric.LATENCY_P99, HISTORY, 105, EXACT, 1)).isEmpty();
    }

    @Test
    void onlyTheDirectionThatHurtsFires() {
        assertThat(detector.check(SERIES, Metric.LATENCY_P99, HISTORY, 80, EXACT, 1)).as("faster is fine").isEmpty();
        double[] traffic = {1_000, 1_020, 980, 1_010, 990, 1_000, 1_030, 970, 1_000, 1_000};
        // median 1,000, MAD 10: scale max(14.8, 10, 1) = 14.826; 900 is 6.74 below.
        assertThat(detector.check(SERIES, Metric.THROUGHPUT, traffic, 900, EXACT, 1)).get()
                .extracting(Finding::reference).isEqualTo(1_000.0);
        assertThat(detector.check(SERIES, Metric.THROUGHPUT, traffic, 1_500, EXACT, 1)).as("more traffic").isEmpty();
    }

    /** All 100: MAD 0; the scale is max(0, 5 % of 100, 1) = 5, so 115 is z 3 and 125 is z 5. */
    @Test
    void aSteadySeriesIsJudgedAgainstTheFloorsNotAZeroMad() {
        AnomalyDetector withRelativeFloor = new AnomalyDetector(10, 4.0, 0.05);
        double[] steady = {100, 100, 100, 100, 100, 100, 100, 100, 100, 100};
        assertThat(withRelativeFloor.check(SERIES, Metric.LATENCY_P99, steady, 115, EXACT, 1)).isEmpty();
        assertThat(withRelativeFloor.check(SERIES, Metric.LATENCY_P99, steady, 125, EXACT, 1)).isPresent();
        // A series of zero error rates: only the absolute floor (0.005) scales; 0.02 is z 4, not above it.
        double[] noErrors = new double[10];
        assertThat(withRelativeFloor.check(SERIES, Metric.ERROR_RATE, noErrors, 0.02, EXACT, 0.005)).isEmpty();
        assertThat(withRelativeFloor.check(SERIES, Metric.ERROR_RATE, noErrors, 0.03, EXACT, 0.005)).isPresent();
    }

    /**
     * Error rates of 57 % to 59 % (MAD 0.5 points): 72 % is far out by the MAD, but on 50 tasks the sampling error
     * at 58 % is 7 points (z 2); on 5,000 tasks it is 0.7 points, and 72 % is news.
     */
    @Test
    void aRatesSamplingErrorIsNoAnomaly() {
        double[] errors = {0.58, 0.575, 0.585, 0.58, 0.57, 0.59, 0.58, 0.575, 0.585, 0.58};
        assertThat(detector.check(SERIES, Metric.ERROR_RATE, errors, 0.72,
                typical -> Metric.ERROR_RATE.samplingError(rates(50), typical), 0.005)).isEmpty();
        assertThat(detector.check(SERIES, Metric.ERROR_RATE, errors, 0.72,
                typical -> Metric.ERROR_RATE.samplingError(rates(5_000), typical), 0.005)).isPresent();
    }

    private static WindowStats rates(long taskOutcomes) {
        return new WindowStats("chat", "1.0.0", 60_000, taskOutcomes, 1, 1, 1, taskOutcomes, 0, 0, 0, Map.of(),
                Double.NaN, Double.NaN, 0, Double.NaN);
    }

    @Test
    void needsTheMinimumHistoryBeforeItMayFire() {
        double[] nine = Arrays.copyOf(HISTORY, 9);
        assertThat(detector.check(SERIES, Metric.LATENCY_P99, nine, 10_000, EXACT, 1)).isEmpty();
        assertThat(detector.check(SERIES, Metric.LATENCY_P99, HISTORY, Double.NaN, EXACT, 1)).isEmpty();
    }

    @Test
    void medianOfOddAndEvenCounts() {
        assertThat(AnomalyDetector.median(new double[] {3, 1, 2})).isEqualTo(2);
        assertThat(AnomalyDetector.median(new double[] {4, 1, 3, 2})).isCloseTo(2.5, within(1e-12));
    }
}
