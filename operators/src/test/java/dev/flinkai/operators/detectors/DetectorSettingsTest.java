package dev.flinkai.operators.detectors;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DetectorSettingsTest {

    @Test
    void theDefaultsAreThePlatformsTargets() {
        DetectorSettings defaults = DetectorSettings.builder().build();
        assertThat(defaults.limits).isEqualTo(Map.of(
                Metric.LATENCY_P99, 1_000.0, Metric.ERROR_RATE, 0.001, Metric.FALLBACK_RATE, 0.05,
                Metric.DEAD_LETTER_RATE, 0.01));
        assertThat(defaults.criticalAfter).isEqualTo(3);
        assertThat(defaults.resolveAfter).isEqualTo(1);
    }

    @Test
    void limitsFromTheJobsSettingsReplaceTheDefaults() {
        DetectorSettings settings = DetectorSettings.builder().limits(" latencyP99=8000, throughput=50 ")
                .anomalyFloors("").build();
        assertThat(settings.limits).isEqualTo(Map.of(Metric.LATENCY_P99, 8_000.0, Metric.THROUGHPUT, 50.0));
        assertThat(settings.anomalyFloors).isEmpty();
    }

    @Test
    void aBadSettingIsRefusedNamingWhatIsAllowed() {
        assertThatThrownBy(() -> DetectorSettings.builder().limits("latency=1000"))
                .hasMessageContaining("Invalid limits 'latency=1000'").hasMessageContaining("latencyP99");
        assertThatThrownBy(() -> DetectorSettings.builder().anomalyFloors("errorRate"))
                .hasMessageContaining("Invalid anomaly floors 'errorRate'");
        assertThatThrownBy(() -> DetectorSettings.builder().historyWindows(5).build())
                .hasMessageContaining("historyWindows (5) must cover");
        assertThatThrownBy(() -> DetectorSettings.builder().expiry(Duration.ofMinutes(5), Duration.ofMinutes(5)).build())
                .hasMessageContaining("expireAfter");
    }
}
