package dev.flinkai.deploy;

import dev.flinkai.jobs.ContextInferenceOptions;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.FallbackKey;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.MetricOptions;
import org.apache.flink.fs.s3hadoop.S3FileSystemFactory;
import org.apache.flink.kubernetes.configuration.KubernetesConfigOptions;
import org.apache.flink.runtime.shuffle.ShuffleServiceOptions;
import org.apache.flink.state.rocksdb.RocksDBOptions;
import org.apache.flink.util.TimeUtils;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Every key a Flink configuration of this project may hold, with its type: the ConfigOptions of Flink itself (every
 * {@code *Options} class of flink-core, flink-runtime, the RocksDB state backend and flink-kubernetes), the
 * operator's and autoscaler's keys (deploy/k8s/crds/operator-config-keys.tsv), the metric reporters' keys, the S3
 * file system's (Hadoop S3A, whose s3.* keys Flink mirrors to fs.s3a.*) and the jobs' own settings, which they also
 * read from the cluster configuration. The CRD lets flinkConfiguration hold anything; this is what catches a
 * misspelt key or a value of the wrong type before the cluster starts and ignores it.
 */
final class FlinkOptions {

    /** The Prometheus reporter reads these without declaring ConfigOptions. */
    private static final Set<String> PROMETHEUS_REPORTER_KEYS = Set.of("port", "filterLabelValueCharacters");
    private static final Pattern REPORTER_KEY = Pattern.compile("metrics\\.reporter\\.([^.]+)\\.(.+)");
    /** Credentials belong in the environment, from a Secret, never in a configuration. */
    private static final Set<String> SECRET_KEYS = Set.of("s3.access-key", "s3.secret-key", "s3.access.key",
            "s3.secret.key", "fs.s3a.access.key", "fs.s3a.secret.key", "s3a.access.key", "s3a.secret.key");

    private final Map<String, ConfigOption<?>> flink = new HashMap<>();
    private final Map<String, String> deprecated = new HashMap<>();
    private final Set<String> reporterKeys = new HashSet<>(PROMETHEUS_REPORTER_KEYS);
    private final Map<Pattern, String> operator = new HashMap<>();
    private final Set<String> s3a = new HashSet<>();

    private FlinkOptions() {}

    static FlinkOptions load(Path operatorKeys) {
        FlinkOptions options = new FlinkOptions();
        for (Class<?> anchor : List.of(CoreOptions.class, ShuffleServiceOptions.class, RocksDBOptions.class,
                KubernetesConfigOptions.class)) {
            optionClassesBeside(anchor).forEach(c -> options.declaredIn(c, options::add));
        }
        ContextInferenceOptions.ALL.forEach(options::add);
        options.declaredIn(MetricOptions.class, o -> {
            if (!o.key().startsWith("metrics.") && !o.key().startsWith("<")) {
                options.reporterKeys.add(o.key());
            }
        });
        try {
            for (String line : Files.readAllLines(operatorKeys)) {
                if (!line.isBlank() && !line.startsWith("#")) {
                    String[] keyAndType = line.split("\t");
                    String key = Pattern.quote(keyAndType[0]).replaceAll("<[a-z]+>", "\\\\E[^.]+\\\\Q");
                    options.operator.put(Pattern.compile(key), keyAndType.length > 1 ? keyAndType[1] : "");
                }
            }
            try (InputStream xml = S3FileSystemFactory.class.getResourceAsStream("/core-default.xml")) {
                Matcher names = Pattern.compile("<name>(fs\\.s3a\\.[^<]+)</name>")
                        .matcher(new String(xml.readAllBytes()));
                while (names.find()) {
                    options.s3a.add(names.group(1));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return options;
    }

    /**
     * The problems of {@code configuration}, each naming its key as {@code <where>.<key>}: unknown and deprecated
     * keys, values that do not parse as the option's type, secrets.
     */
    List<String> check(Map<String, String> configuration, String where) {
        List<String> problems = new ArrayList<>();
        configuration.forEach((key, value) -> {
            String problem = check(key, value);
            if (problem != null) {
                problems.add(where + "." + key + ": " + problem);
            }
        });
        return problems;
    }

    private String check(String key, String value) {
        if (SECRET_KEYS.contains(key)) {
            return "a credential in the configuration; give it to the pods as an environment variable from a Secret "
                    + "(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for S3)";
        }
        if (deprecated.containsKey(key)) {
            return "deprecated, use " + deprecated.get(key);
        }
        ConfigOption<?> option = flink.get(key);
        if (option != null) {
            try {
                Configuration.fromMap(Map.of(key, value)).get(option);
                return null;
            } catch (IllegalArgumentException e) {
                return "'" + value + "' is not a valid value: " + e.getMessage();
            }
        }
        for (Map.Entry<Pattern, String> operatorKey : operator.entrySet()) {
            if (operatorKey.getKey().matcher(key).matches()) {
                return parses(value, operatorKey.getValue());
            }
        }
        Matcher reporter = REPORTER_KEY.matcher(key);
        if (reporter.matches()) {
            return reporterKeys.contains(reporter.group(2)) ? null : "no metric reporter option '" + reporter.group(2)
                    + "' (known: " + reporterKeys.stream().sorted().toList() + ")";
        }
        for (String prefix : List.of("s3.", "s3a.", "fs.s3a.")) {
            if (key.startsWith(prefix)) {
                return s3a.contains("fs.s3a." + key.substring(prefix.length())) ? null
                        : "no S3 file system option (Flink passes s3.* on as fs.s3a.*; Hadoop has no fs.s3a."
                        + key.substring(prefix.length()) + ")";
            }
        }
        return "no such option of Flink " + Build.flinkVersion() + ", the Kubernetes operator, a metric reporter, "
                + "the S3 file system or the jobs";
    }

    private static String parses(String value, String type) {
        try {
            switch (type) {
                case "Boolean" -> {
                    if (!value.equalsIgnoreCase("true") && !value.equalsIgnoreCase("false")) {
                        throw new IllegalArgumentException("not true or false");
                    }
                }
                case "Integer" -> Integer.parseInt(value.trim());
                case "Double" -> Double.parseDouble(value.trim());
                case "Duration" -> TimeUtils.parseDuration(value);
                case "MemorySize" -> MemorySize.parse(value);
                default -> { } // String, Enum, List, Map: the operator checks them itself
            }
            return null;
        } catch (IllegalArgumentException e) {
            return "'" + value + "' is not a " + type + ": " + e.getMessage();
        }
    }

    private void add(ConfigOption<?> option) {
        flink.put(option.key(), option);
        for (FallbackKey fallback : option.fallbackKeys()) {
            if (fallback.isDeprecated()) {
                deprecated.put(fallback.getKey(), option.key());
            }
        }
    }

    private void declaredIn(Class<?> options, Consumer<ConfigOption<?>> to) {
        for (Field field : options.getFields()) {
            if (Modifier.isStatic(field.getModifiers()) && ConfigOption.class.isAssignableFrom(field.getType())) {
                try {
                    to.accept((ConfigOption<?>) field.get(null));
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
    }

    /** The top-level {@code *Options} classes in the jar of {@code anchor}. */
    private static List<Class<?>> optionClassesBeside(Class<?> anchor) {
        try (JarFile jar = new JarFile(Path.of(anchor.getProtectionDomain().getCodeSource().getLocation().toURI())
                .toFile())) {
            List<String> names = jar.stream().map(e -> e.getName())
                    .filter(n -> n.startsWith("org/apache/flink/") && n.endsWith("Options.class") && !n.contains("$"))
                    .map(n -> n.substring(0, n.length() - ".class".length()).replace('/', '.'))
                    .collect(Collectors.toList());
            List<Class<?>> classes = new ArrayList<>();
            for (String name : names) {
                try {
                    classes.add(Class.forName(name));
                } catch (Throwable notLoadableHere) {
                    // an options class whose dependencies are not on this classpath: its keys are not ours
                }
            }
            return classes;
        } catch (IOException | URISyntaxException e) {
            throw new IllegalStateException("Cannot list the options classes beside " + anchor, e);
        }
    }
}
