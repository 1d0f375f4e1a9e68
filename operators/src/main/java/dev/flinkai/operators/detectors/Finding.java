package dev.flinkai.operators.detectors;

import dev.flinkai.schemas.AlertKind;

/**
 * A detector's verdict that a condition holds in one window; the {@link AlertTracker} turns the findings of
 * successive windows into alerts (escalation, de-duplication, resolution).
 *
 * @param key       the condition, e.g. {@code feature=chat,model=1.0.0,metric=latencyP99}
 * @param reference what the value was compared with: the limit, the recent median or the previous version's value
 */
public record Finding(AlertKind kind, String key, String metric, double value, double reference, String message) {

    /** Identifies the condition: the same key may be watched by several detectors. */
    public String conditionId() {
        return conditionId(kind, key);
    }

    static String conditionId(AlertKind kind, String key) {
        return kind + " " + key;
    }

    static String key(String seriesKey, String metric) {
        return seriesKey + ",metric=" + metric;
    }
}
