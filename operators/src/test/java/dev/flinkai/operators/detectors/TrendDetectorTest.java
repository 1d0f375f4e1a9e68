package dev.flinkai.operators.detectors;

import dev.flinkai.schemas.AlertKind;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class TrendDetectorTest {

    private static final String SERIES = "feature=chat,model=1.0.0";
    /** A straight line, 50 ms per window: the fit is perfect and the line is at 700 now. */
    private static final double[] RISING = {500, 550, 600, 650, 700};

    /** 700 + 50 × 3 = 850 stays below 1,000; 700 + 50 × 7 = 1,050 crosses it, 6 windows from now. */
    @Test
    void firesWhenTheLineCrossesTheLimitWithinTheHorizon() {
        assertThat(new TrendDetector(5, 3, 0.8).check(SERIES, Metric.LATENCY_P99, RISING, 1_000)).isEmpty();
        Finding finding = new TrendDetector(5, 7, 0.8).check(SERIES, Metric.LATENCY_P99, RISING, 1_000).orElseThrow();
        assertThat(finding.kind()).isEqualTo(AlertKind.TREND);
        assertThat(finding.key()).isEqualTo("feature=chat,model=1.0.0,metric=latencyP99");
        assertThat(finding.value()).isEqualTo(700);
        assertThat(finding.reference()).isEqualTo(1_000);
        assertThat(finding.message()).isEqualTo("latencyP99 at 700 ms moves 50 ms per window over the last 5 windows"
                + " (R² 1.00): reaches the limit 1000 ms in about 6.00 windows");
    }

    /** Only the last 5 of 7 points count: the first two (far higher) would make the slope negative. */
    @Test
    void fitsTheLatestWindowsOnly() {
        double[] recent = {2_000, 1_900, 500, 550, 600, 650, 700};
        assertThat(new TrendDetector(5, 7, 0.8).check(SERIES, Metric.LATENCY_P99, recent, 1_000)).isPresent();
    }

    /**
     * 500 900 500 900 700: slope 40 (Sxy 400 / Sxx 10), R² = 400² / (10 × 160,000) = 0.1. The line would reach 1,060
     * in 7 windows, but it explains a tenth of the variation: noise.
     */
    @Test
    void noiseIsNoTrend() {
        double[] noisy = {500, 900, 500, 900, 700};
        assertThat(new TrendDetector(5, 7, 0.8).check(SERIES, Metric.LATENCY_P99, noisy, 1_000)).isEmpty();
        assertThat(new TrendDetector(5, 7, 0.05).check(SERIES, Metric.LATENCY_P99, noisy, 1_000)).isPresent();
    }

    @Test
    void aFallingThroughputHeadsForItsLowerLimit() {
        double[] falling = {300, 260, 220, 180, 140}; // -40 per window, at 140: 100 in one window
        assertThat(new TrendDetector(5, 1, 0.8).check(SERIES, Metric.THROUGHPUT, falling, 100)).get()
                .extracting(Finding::message).asString().endsWith("in about 1.00 windows");
        assertThat(new TrendDetector(5, 1, 0.8).check(SERIES, Metric.LATENCY_P99, falling, 1_000))
                .as("falling latency").isEmpty();
    }

    @Test
    void staysQuietBeyondTheLimitAndWithTooFewWindows() {
        double[] over = {800, 900, 1_000, 1_100, 1_200};
        assertThat(new TrendDetector(5, 7, 0.8).check(SERIES, Metric.LATENCY_P99, over, 1_000))
                .as("the threshold's alert").isEmpty();
        assertThat(new TrendDetector(6, 7, 0.8).check(SERIES, Metric.LATENCY_P99, RISING, 1_000)).isEmpty();
    }
}
