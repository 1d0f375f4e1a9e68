package dev.flinkai.operators.detectors;

import dev.flinkai.schemas.AlertKind;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class RegressionDetectorTest {

    private final RegressionDetector detector = new RegressionDetector(0.02, 0.25, 0.15, 200);

    private static WindowStats window(String version, double p99, long predictions, long fallbacks, Map<String, Long> labels) {
        return window(version, p99, 5, predictions, fallbacks, labels);
    }

    private static WindowStats window(String version, double p99, double p99Error, long predictions, long fallbacks,
                                      Map<String, Long> labels) {
        return new WindowStats("chat", version, 60_000, 1_000, 1, 2, p99, 0, 0, predictions, fallbacks, labels, 20, 40,
                0, p99Error);
    }

    /** 10 of 1,000 predictions fell back (1 %); the new version 90 of 1,000 (9 %): 8 points worse. */
    private static final VersionSummary PREVIOUS = VersionSummary.of("1.0.0", List.of(
            window("1.0.0", 200, 500, 5, Map.of("QUERY", 300L, "ACTION", 200L)),
            window("1.0.0", 220, 500, 5, Map.of("QUERY", 300L, "ACTION", 200L))));

    @Test
    void aWorseFallbackRateNamesBothVersions() {
        VersionSummary candidate = VersionSummary.of("2.0.0", List.of(
                window("2.0.0", 205, 500, 45, Map.of("QUERY", 300L, "ACTION", 200L)),
                window("2.0.0", 215, 500, 45, Map.of("QUERY", 300L, "ACTION", 200L))));
        assertThat(PREVIOUS.fallbackRate()).isEqualTo(0.01);
        assertThat(PREVIOUS.latencyP99Millis()).isEqualTo(210);
        List<Finding> findings = detector.check("chat", candidate, PREVIOUS);
        assertThat(findings).hasSize(1);
        Finding finding = findings.get(0);
        assertThat(finding.kind()).isEqualTo(AlertKind.REGRESSION);
        assertThat(finding.key()).isEqualTo("feature=chat,model=2.0.0,previous=1.0.0,metric=fallbackRate");
        assertThat(finding.value()).isEqualTo(0.09);
        assertThat(finding.reference()).isEqualTo(0.01);
        assertThat(finding.message()).isEqualTo("model 2.0.0 against 1.0.0: fallback rate 9.00 % against 1.00 %");
    }

    @Test
    void twoPointsWorseIsStillWithinTheMargin() {
        VersionSummary candidate = VersionSummary.of("2.0.0", List.of(
                window("2.0.0", 210, 1_000, 30, Map.of("QUERY", 600L, "ACTION", 400L))));
        assertThat(detector.check("chat", candidate, PREVIOUS)).isEmpty();
    }

    /** Shares 0.3/0.7 against 0.6/0.4: total variation ½ (0.3 + 0.3) = 0.3 > 0.15. */
    @Test
    void anotherLabelDistributionIsARegression() {
        VersionSummary candidate = VersionSummary.of("2.0.0", List.of(
                window("2.0.0", 210, 1_000, 10, Map.of("QUERY", 300L, "ACTION", 700L))));
        assertThat(candidate.labelDistance(PREVIOUS)).isCloseTo(0.3, within(1e-12));
        assertThat(detector.check("chat", candidate, PREVIOUS)).singleElement().satisfies(f -> {
            assertThat(f.key()).isEqualTo("feature=chat,model=2.0.0,previous=1.0.0,metric=labels");
            assertThat(f.value()).isCloseTo(0.3, within(1e-12));
        });
        VersionSummary disjoint = VersionSummary.of("2.0.0", List.of(
                window("2.0.0", 210, 1_000, 10, Map.of("FEEDBACK", 1_000L))));
        assertThat(disjoint.labelDistance(PREVIOUS)).isCloseTo(1.0, within(1e-12));
    }

    /** Median of the window p99s 290 against 210: 38 % slower, beyond 25 %. */
    @Test
    void aSlowerP99IsARegression() {
        VersionSummary candidate = VersionSummary.of("2.0.0", List.of(
                window("2.0.0", 300, 500, 5, Map.of("QUERY", 300L, "ACTION", 200L)),
                window("2.0.0", 280, 500, 5, Map.of("QUERY", 300L, "ACTION", 200L))));
        assertThat(detector.check("chat", candidate, PREVIOUS)).singleElement().satisfies(f -> {
            assertThat(f.key()).isEqualTo("feature=chat,model=2.0.0,previous=1.0.0,metric=latencyP99");
            assertThat(f.value()).isEqualTo(290);
            assertThat(f.reference()).isEqualTo(210);
        });
    }

    /** 290 against 210 again, but each p99 may be off by 40 ms by chance: 80 ms is within twice their 57 ms. */
    @Test
    void aSlowerP99WithinItsSamplingErrorIsNoRegression() {
        VersionSummary noisyBefore = VersionSummary.of("1.0.0", List.of(
                window("1.0.0", 210, 40, 1_000, 10, Map.of("QUERY", 600L, "ACTION", 400L))));
        VersionSummary noisy = VersionSummary.of("2.0.0", List.of(
                window("2.0.0", 290, 40, 1_000, 10, Map.of("QUERY", 600L, "ACTION", 400L))));
        assertThat(detector.check("chat", noisy, noisyBefore)).isEmpty();
    }

    @Test
    void tooFewPredictionsAreNotCompared() {
        VersionSummary early = VersionSummary.of("2.0.0", List.of(
                window("2.0.0", 210, 100, 50, Map.of("FEEDBACK", 100L))));
        assertThat(detector.check("chat", early, PREVIOUS)).isEmpty();
    }
}
