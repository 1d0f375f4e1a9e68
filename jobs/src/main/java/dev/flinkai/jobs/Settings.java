package dev.flinkai.jobs;

import org.apache.flink.configuration.MemorySize;
import org.apache.flink.util.ParameterTool;
import org.apache.flink.util.TimeUtils;

import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * Typed reading of {@code --key value} arguments. Every bad value fails at start with a message naming its key, and
 * so does any key the job does not know (a typo must not silently fall back to a default).
 */
public final class Settings {

    private final ParameterTool params;
    private final Set<String> known = new TreeSet<>();

    public Settings(ParameterTool params) {
        this.params = params;
    }

    public ParameterTool params() {
        return params;
    }

    public String string(String key, String defaultValue) {
        known.add(key);
        String value = params.get(key, defaultValue);
        if (value != null && value.isBlank()) {
            throw invalid(key, value, "must not be blank");
        }
        return value;
    }

    public String required(String key) {
        String value = string(key, null);
        if (value == null) {
            throw new IllegalArgumentException("Missing required setting --" + key);
        }
        return value;
    }

    public int intAtLeast(String key, int defaultValue, int min) {
        long value = longAtLeast(key, defaultValue, min);
        if (value > Integer.MAX_VALUE) {
            throw invalid(key, Long.toString(value), "must be at most " + Integer.MAX_VALUE);
        }
        return (int) value;
    }

    public long longAtLeast(String key, long defaultValue, long min) {
        known.add(key);
        String raw = params.get(key, Long.toString(defaultValue));
        long value;
        try {
            value = Long.parseLong(raw.trim());
        } catch (NumberFormatException e) {
            throw invalid(key, raw, "must be an integer");
        }
        if (value < min) {
            throw invalid(key, raw, "must be at least " + min);
        }
        return value;
    }

    public double doubleBetween(String key, double defaultValue, double min, double max) {
        known.add(key);
        String raw = params.get(key, Double.toString(defaultValue));
        double value;
        try {
            value = Double.parseDouble(raw.trim());
        } catch (NumberFormatException e) {
            throw invalid(key, raw, "must be a number");
        }
        if (!(value >= min && value <= max)) {
            throw invalid(key, raw, "must be between " + min + " and " + max);
        }
        return value;
    }

    private static final String DURATION_FORMAT = "must be a duration such as 500ms, 10s, 5min, 7d";

    /** A duration such as {@code 10s}, {@code 500ms}, {@code 7d}; must be positive. */
    public Duration duration(String key, Duration defaultValue) {
        return parsed(key, defaultValue, TimeUtils::parseDuration, d -> !d.isNegative() && !d.isZero(), DURATION_FORMAT,
                "must be positive");
    }

    /** A duration that may also be 0. */
    public Duration durationOrZero(String key, Duration defaultValue) {
        return parsed(key, defaultValue, TimeUtils::parseDuration, d -> !d.isNegative(), DURATION_FORMAT,
                "must not be negative");
    }

    /** A size such as {@code 4mb}, {@code 512kb}; must be positive. */
    public MemorySize memorySize(String key, MemorySize defaultValue) {
        return parsed(key, defaultValue, MemorySize::parse, m -> m.getBytes() > 0, "must be a size such as 512kb, 4mb, 1gb",
                "must be positive");
    }

    private <T> T parsed(String key, T defaultValue, Function<String, T> parser, Predicate<T> isValid, String format,
                         String rule) {
        known.add(key);
        String raw = params.get(key);
        if (raw == null) {
            return defaultValue;
        }
        T value;
        try {
            value = parser.apply(raw);
        } catch (RuntimeException e) {
            throw invalid(key, raw, format);
        }
        if (!isValid.test(value)) {
            throw invalid(key, raw, rule);
        }
        return value;
    }

    public String choice(String key, String defaultValue, String... allowed) {
        String value = string(key, defaultValue);
        for (String a : allowed) {
            if (a.equals(value)) {
                return value;
            }
        }
        throw invalid(key, value, "must be one of " + String.join(", ", allowed));
    }

    /** Call after reading every setting: rejects keys nobody asked for. */
    public void rejectUnknownKeys() {
        Set<String> unknown = new TreeSet<>(params.toMap().keySet());
        unknown.removeAll(known);
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("Unknown setting(s) " + unknown.stream().map(k -> "--" + k).toList()
                    + "; known settings: " + known);
        }
    }

    private static IllegalArgumentException invalid(String key, String value, String rule) {
        return new IllegalArgumentException("Invalid setting --" + key + " '" + value + "': " + rule);
    }
}
