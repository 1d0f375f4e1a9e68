package dev.flinkai.jobs;

import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.TableConfig;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.util.ParameterTool;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The business KPIs in SQL: runs {@code sql/kpis.sql} (per hour and assistant feature: sessions, task completion,
 * adoption, satisfaction, latency percentiles, from user-events to the compacted kpis topic) with the job's settings
 * filled in. SQL says windowed aggregations best; the script is what an analyst reads and changes.
 *
 * <pre>
 * flink run -c dev.flinkai.jobs.KpiJob flink-ai-jobs.jar [--topic.kpis kpis] [--session.gap 30min] ...
 * </pre>
 * Needs Flink's table planner on the cluster (flink-table-planner-loader, flink-table-runtime and the table API in
 * lib/); the format and functions travel in the job jar.
 */
public final class KpiJob {

    public static final String SCRIPT = "sql/kpis.sql";
    public static final String JOB_NAME = "kpis";
    private static final Pattern VARIABLE = Pattern.compile("\\$\\{([a-z.-]+)}");

    private KpiJob() {}

    public static void main(String[] args) throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        KpiSettings settings = KpiSettings.from(args, env.getConfiguration());
        env.getConfig().setGlobalJobParameters(ParameterTool.fromMap(settings.shown));
        env.enableCheckpointing(settings.checkpointInterval.toMillis());
        StreamTableEnvironment tEnv = StreamTableEnvironment.create(env);
        run(tEnv, settings);
    }

    /** Configures {@code tEnv} for the script and submits it; the result's job runs on. */
    public static TableResult run(TableEnvironment tEnv, KpiSettings settings) throws IOException {
        configure(tEnv.getConfig(), settings);
        return execute(tEnv, script(settings));
    }

    static void configure(TableConfig config, KpiSettings settings) {
        config.set(PipelineOptions.NAME, JOB_NAME);
        config.set("table.local-time-zone", "UTC");
        config.set("table.exec.source.idle-timeout", millis(settings.idleTimeout));
        config.set("table.exec.state.ttl", millis(settings.stateTtl));
    }

    /** Runs the statements of {@code script} in order; the last one (the INSERT) starts the job. */
    public static TableResult execute(TableEnvironment tEnv, String script) {
        TableResult last = null;
        for (String statement : statements(script)) {
            last = tEnv.executeSql(statement);
        }
        if (last == null) {
            throw new IllegalArgumentException("no SQL statement in the script");
        }
        return last;
    }

    /** The script with the settings in place of its ${...} variables. */
    public static String script(KpiSettings settings) throws IOException {
        String template;
        try (InputStream in = KpiJob.class.getClassLoader().getResourceAsStream(SCRIPT)) {
            if (in == null) {
                throw new IOException(SCRIPT + " is not on the class path");
            }
            template = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        return fill(template, variables(settings));
    }

    static Map<String, String> variables(KpiSettings s) {
        Map<String, String> v = new LinkedHashMap<>();
        v.put("topic.events", s.eventsTopic);
        v.put("topic.kpis", s.kpisTopic);
        v.put("kafka.group-id", s.groupId);
        v.put("kafka.properties", kafkaProperties(s));
        v.put("scan.bounded", s.bounded ? "'scan.bounded.mode' = 'latest-offset'," : "");
        v.put("watermark.out-of-orderness", interval(s.outOfOrderness));
        v.put("window.size", interval(s.window));
        v.put("window.size.millis", Long.toString(s.window.toMillis()));
        v.put("session.gap", interval(s.sessionGap));
        return v;
    }

    static String fill(String template, Map<String, String> variables) {
        Matcher m = VARIABLE.matcher(template);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String value = variables.get(m.group(1));
            if (value == null) {
                throw new IllegalArgumentException("The script uses ${" + m.group(1) + "}, which is no variable: "
                        + variables.keySet());
            }
            m.appendReplacement(out, Matcher.quoteReplacement(value));
        }
        m.appendTail(out);
        return out.toString();
    }

    /** Statements end with a semicolon at the end of a line; lines starting with -- are comments. */
    static List<String> statements(String script) {
        List<String> statements = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String line : script.split("\n")) {
            if (line.strip().startsWith("--")) {
                continue;
            }
            current.append(line).append('\n');
            if (line.strip().endsWith(";")) {
                String statement = current.toString().strip();
                statements.add(statement.substring(0, statement.length() - 1));
                current.setLength(0);
            }
        }
        if (!current.toString().isBlank()) {
            statements.add(current.toString().strip());
        }
        return statements;
    }

    /** The brokers and the security properties, as Kafka connector options. */
    private static String kafkaProperties(KpiSettings s) {
        Properties properties = s.kafka.clientProperties();
        StringBuilder options = new StringBuilder("'properties.bootstrap.servers' = '")
                .append(literal(s.kafka.bootstrapServers())).append('\'');
        for (String name : properties.stringPropertyNames().stream().sorted().toList()) {
            options.append(", 'properties.").append(name).append("' = '")
                    .append(literal(properties.getProperty(name))).append('\'');
        }
        return options.toString();
    }

    private static String literal(String value) {
        return value.replace("'", "''");
    }

    /** A day-to-second interval literal (up to 99 days), to the millisecond. */
    static String interval(Duration d) {
        long ms = d.toMillis();
        return String.format("INTERVAL '%d %02d:%02d:%02d.%03d' DAY TO SECOND(3)", ms / 86_400_000,
                ms / 3_600_000 % 24, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    }

    private static String millis(Duration d) {
        return d.toMillis() + " ms";
    }
}
