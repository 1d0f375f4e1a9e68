package dev.flinkai.operators.detectors;

import java.util.Locale;

/** Values in alert messages as people read them: rates in percent, latencies in ms, counts whole. */
final class Format {
    private Format() {
    }

    static String value(Metric metric, double value) {
        return switch (metric) {
            case ERROR_RATE, FALLBACK_RATE -> percent(value);
            case THROUGHPUT -> String.format(Locale.ROOT, "%.0f events", value);
            default -> String.format(Locale.ROOT, "%.0f ms", value);
        };
    }

    static String percent(double fraction) {
        return String.format(Locale.ROOT, "%.2f %%", fraction * 100);
    }

    static String number(double value) {
        return String.format(Locale.ROOT, "%.2f", value);
    }
}
