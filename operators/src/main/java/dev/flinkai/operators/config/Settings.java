package dev.flinkai.operators.config;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.configuration.description.HtmlFormatter;
import org.apache.flink.util.ParameterTool;
import org.apache.flink.util.TimeUtils;

import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Typed reading of a job's {@link ConfigOption}s from its {@code --key value} arguments, then from the cluster's
 * configuration, then from the option's default. A value that does not parse or break a rule fails at start with a
 * message naming its key ({@code --key}), and so does an argument no option declares: a typo must not silently fall
 * back to a default.
 */
public final class Settings {

    private final List<ConfigOption<?>> known;
    private final Configuration arguments;
    private final ReadableConfig cluster;
    private final Set<String> secrets;

    private Settings(List<ConfigOption<?>> known, Map<String, String> arguments, ReadableConfig cluster,
                     Set<String> secrets) {
        this.known = known;
        this.arguments = Configuration.fromMap(arguments);
        this.cluster = cluster;
        this.secrets = secrets;
        Set<String> unknown = new TreeSet<>(arguments.keySet());
        known.forEach(o -> unknown.remove(o.key()));
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("Unknown setting(s) " + unknown.stream().map(k -> "--" + k).toList()
                    + "; known settings: " + known.stream().map(ConfigOption::key).sorted().toList());
        }
    }

    /**
     * @param known   every option the job reads
     * @param cluster the cluster's configuration (e.g. the execution environment's), or an empty one
     * @param secrets keys whose values are never shown
     */
    public static Settings of(String[] args, List<ConfigOption<?>> known, ReadableConfig cluster, Set<String> secrets) {
        Map<String, String> given;
        try {
            given = ParameterTool.fromArgs(args).toMap();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("Arguments must be --key value pairs: " + e.getMessage(), e);
        }
        return new Settings(known, given, cluster, secrets);
    }

    public <T> T get(ConfigOption<T> option) {
        return getOptional(option).orElse(option.hasDefaultValue() ? option.defaultValue() : null);
    }

    /** For options whose default depends on other settings: {@code defaultValue} when the option is not set. */
    public <T> T get(ConfigOption<T> option, T defaultValue) {
        return getOptional(option).orElse(defaultValue);
    }

    public <T> Optional<T> getOptional(ConfigOption<T> option) {
        Optional<T> value = read(arguments, option, "");
        return value.isPresent() ? value : read(cluster, option, " (from the cluster configuration)");
    }

    public String required(ConfigOption<String> option) {
        return getOptional(option).orElseThrow(() ->
                new IllegalArgumentException("Missing required setting --" + option.key() + ": " + describe(option)));
    }

    /** The value of a text option, which must not be empty or blank. */
    public String nonBlank(ConfigOption<String> option) {
        String value = get(option);
        if (value == null || value.isBlank()) {
            throw invalid(option, value, "must not be blank");
        }
        return value;
    }

    public int atLeast(ConfigOption<Integer> option, int min) {
        return atLeast(option, get(option), min);
    }

    public int atLeast(ConfigOption<Integer> option, Integer value, int min) {
        if (value < min) {
            throw invalid(option, value, "must be at least " + min);
        }
        return value;
    }

    public long atLeast(ConfigOption<Long> option, long min) {
        long value = get(option);
        if (value < min) {
            throw invalid(option, value, "must be at least " + min);
        }
        return value;
    }

    public Duration positive(ConfigOption<Duration> option) {
        return positive(option, get(option));
    }

    public Duration positive(ConfigOption<Duration> option, Duration value) {
        if (value.isNegative() || value.isZero()) {
            throw invalid(option, value, "must be positive");
        }
        return value;
    }

    public Duration notNegative(ConfigOption<Duration> option, Duration value) {
        if (value.isNegative()) {
            throw invalid(option, value, "must not be negative");
        }
        return value;
    }

    public static IllegalArgumentException invalid(ConfigOption<?> option, Object value, String rule) {
        return new IllegalArgumentException("Invalid setting --" + option.key() + " '" + value + "': " + rule);
    }

    /** Every known option with its value (default included), secrets masked: what the web UI shows. */
    public Map<String, String> effective() {
        Map<String, String> shown = new LinkedHashMap<>();
        for (ConfigOption<?> option : known) {
            Object value = get(option);
            if (value != null) {
                shown.put(option.key(), secrets.contains(option.key()) ? "******" : format(value));
            }
        }
        return shown;
    }

    /** The option's description as plain text (markdown-safe). */
    public static String describe(ConfigOption<?> option) {
        return new HtmlFormatter().format(option.description()).replace("&quot;", "\"").replace("&#39;", "'");
    }

    /** A value the way it is written as an argument: durations as 10 s, 2 min, ... */
    public static String format(Object value) {
        if (value instanceof Duration d) {
            return TimeUtils.formatWithHighestUnit(d);
        }
        if (value instanceof List<?> list) {
            return list.stream().map(Settings::format).collect(Collectors.joining(";"));
        }
        return String.valueOf(value);
    }

    private static <T> Optional<T> read(ReadableConfig config, ConfigOption<T> option, String where) {
        try {
            return config.getOptional(option);
        } catch (IllegalArgumentException e) {
            String raw = config.toMap().get(option.key());
            throw new IllegalArgumentException("Invalid setting --" + option.key() + " '" + raw + "'" + where + ": must be "
                    + expected(option), e);
        }
    }

    /** What a value of the option looks like, from the type of its default (typed options all have one). */
    private static String expected(ConfigOption<?> option) {
        Object sample = option.hasDefaultValue() ? option.defaultValue() : "";
        if (sample instanceof Duration) {
            return "a duration such as 500ms, 10s, 5min, 7d";
        }
        if (sample instanceof MemorySize) {
            return "a size such as 512kb, 4mb, 1gb";
        }
        if (sample instanceof Enum<?> e) {
            return "one of " + Arrays.stream(e.getDeclaringClass().getEnumConstants()).map(String::valueOf)
                    .collect(Collectors.joining(", "));
        }
        if (sample instanceof Integer || sample instanceof Long) {
            return "an integer";
        }
        if (sample instanceof Double) {
            return "a number";
        }
        return "a " + sample.getClass().getSimpleName();
    }
}
