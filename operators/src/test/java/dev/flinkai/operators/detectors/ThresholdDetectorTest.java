package dev.flinkai.operators.detectors;

import dev.flinkai.schemas.AlertKind;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class ThresholdDetectorTest {

    private static final String SERIES = "feature=chat,model=1.0.0";

    @Test
    void firesAboveAnUpperLimitOnlyAndSaysByHowMuch() {
        ThresholdDetector p99 = new ThresholdDetector(Metric.LATENCY_P99, 1_000);
        Finding finding = p99.check(SERIES, 1_250).orElseThrow();
        assertThat(finding.kind()).isEqualTo(AlertKind.THRESHOLD);
        assertThat(finding.key()).isEqualTo("feature=chat,model=1.0.0,metric=latencyP99");
        assertThat(finding.metric()).isEqualTo("latencyP99");
        assertThat(finding.value()).isEqualTo(1_250);
        assertThat(finding.reference()).isEqualTo(1_000);
        assertThat(finding.message()).isEqualTo("latencyP99 1250 ms above the limit 1000 ms");

        assertThat(p99.check(SERIES, 1_000)).as("at the limit is within it").isEmpty();
        assertThat(p99.check(SERIES, 400)).isEmpty();
        assertThat(p99.check(SERIES, Double.NaN)).as("not measured").isEmpty();
    }

    @Test
    void throughputHasALowerLimit() {
        ThresholdDetector throughput = new ThresholdDetector(Metric.THROUGHPUT, 100);
        assertThat(throughput.check(SERIES, 80)).get().extracting(Finding::message)
                .isEqualTo("throughput 80 events below the limit 100 events");
        assertThat(throughput.check(SERIES, 120)).isEmpty();
    }

    /** 1 failure in 10 outcomes is no measured error rate; 2 in 1,000 is 0.2 %, above 0.1 %. */
    @Test
    void aRateNeedsEnoughSamplesToBeMeasured() {
        ThresholdDetector errors = new ThresholdDetector(Metric.ERROR_RATE, 0.001);
        WindowStats few = new WindowStats("chat", "1", 60_000, 10, 1, 2, 3, 10, 1, 0, 0, Map.of(), Double.NaN,
                Double.NaN, 0, Double.NaN);
        WindowStats many = new WindowStats("chat", "1", 60_000, 1_000, 1, 2, 3, 1_000, 2, 0, 0, Map.of(), Double.NaN,
                Double.NaN, 0, Double.NaN);
        assertThat(Metric.ERROR_RATE.of(few, 20)).isNaN();
        assertThat(errors.check(SERIES, Metric.ERROR_RATE.of(few, 20))).isEmpty();
        assertThat(Metric.ERROR_RATE.of(many, 20)).isEqualTo(0.002);
        assertThat(errors.check(SERIES, Metric.ERROR_RATE.of(many, 20))).get().extracting(Finding::message)
                .isEqualTo("errorRate 0.20 % above the limit 0.10 %");
        assertThat(Metric.FALLBACK_RATE.of(many, 20)).as("no predictions").isNaN();
        assertThat(Metric.LATENCY_P99.of(few, 1)).as("a p99 of 10 latencies is their maximum").isNaN();
        assertThat(Metric.LATENCY_P99.of(many, 1)).isEqualTo(3);
    }
}
