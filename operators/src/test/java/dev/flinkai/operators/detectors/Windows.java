package dev.flinkai.operators.detectors;

import java.util.Map;

/** Window statistics for the detectors' tests: only the numbers a test is about differ from a quiet window. */
final class Windows {
    static final String FEATURE = "chat";
    static final long MINUTE = 60_000;

    private Windows() {
    }

    /** Window {@code index} of a 1-minute series of {@code version}: 1,000 events, 100 outcomes, 500 predictions. */
    static WindowStats window(String version, int index, double p99, long taskFailures, long fallbacks) {
        return new WindowStats(FEATURE, version, (index + 1) * MINUTE, 1_000, p99 / 3, p99 / 1.5, p99,
                100, taskFailures, 500, fallbacks, Map.of("QUERY", 300L, "ACTION", 200L), 20, 40, 0, Double.NaN);
    }

    static WindowStats latency(int index, double p99) {
        return window("1.0.0", index, p99, 0, 0);
    }
}
