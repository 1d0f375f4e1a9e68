package dev.flinkai.jobs;

import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.SqlParserException;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.util.ExceptionUtils;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The KPI job's script and settings: what it runs, and how a mistake in either is reported. */
class KpiJobTest {

    @Test
    void theScriptHasEverySettingFilledIn() throws Exception {
        String script = KpiJob.script(KpiSettings.fromArgs("--session.gap", "45 min", "--bounded", "true"));
        assertThat(script).doesNotContain("${")
                .contains("INTERVAL '0 00:45:00.000' DAY TO SECOND(3)")
                .contains("'scan.bounded.mode' = 'latest-offset'")
                .contains("'properties.bootstrap.servers' = '127.0.0.1:9092'");
        assertThat(KpiJob.statements(script)).hasSize(8).last().asString().startsWith("INSERT INTO kpis");
    }

    /** The planner takes the whole script: every statement validates and the INSERT has a plan. */
    @Test
    void theScriptPlans() throws Exception {
        TableEnvironment tEnv = TableEnvironment.create(EnvironmentSettings.inStreamingMode());
        KpiSettings settings = KpiSettings.fromArgs();
        KpiJob.configure(tEnv.getConfig(), settings);
        List<String> statements = KpiJob.statements(KpiJob.script(settings));
        statements.subList(0, statements.size() - 1).forEach(tEnv::executeSql);
        assertThat(tEnv.explainSql(statements.get(statements.size() - 1))).contains("Sink(table=[default_catalog.default_database.kpis]");
    }

    @Test
    void aBadSettingFailsAtStartNamingIt() {
        assertThatThrownBy(() -> KpiSettings.fromArgs("--session.gapp", "10 min"))
                .hasMessageContaining("Unknown setting(s) [--session.gapp]");
        assertThatThrownBy(() -> KpiSettings.fromArgs("--window.size", "7 min"))
                .hasMessageContaining("--window.size").hasMessageContaining("must divide a day");
        assertThatThrownBy(() -> KpiSettings.fromArgs("--state.ttl", "1 h"))
                .hasMessageContaining("--state.ttl").hasMessageContaining("--session.gap");
    }

    /** A statement that does not parse, or a table option no factory knows, fails with Flink's own message. */
    @Test
    void aBadStatementOrAnUnknownOptionFailsWithFlinksError() {
        TableEnvironment tEnv = TableEnvironment.create(EnvironmentSettings.inStreamingMode());
        assertThatThrownBy(() -> KpiJob.execute(tEnv, "SELEC userId FROM user_events;"))
                .isInstanceOf(SqlParserException.class).hasMessageContaining("SQL parse failed");
        assertThatThrownBy(() -> KpiJob.execute(tEnv, "CREATE TEMPORARY TABLE t (userId STRING) WITH ("
                + "'connector' = 'kafka', 'topic' = 't', 'properties.bootstrap.servers' = '127.0.0.1:1', "
                + "'format' = 'flinkai-avro', 'flinkai-avro.record' = 'UserEvent', 'flinkai-avro.recrod' = 'x');\n"
                + "INSERT INTO t SELECT 'u';"))
                .isInstanceOf(ValidationException.class)
                .satisfies(e -> assertThat(ExceptionUtils.stringifyException(e))
                        .contains("Unsupported options").contains("flinkai-avro.recrod"));
    }
}
