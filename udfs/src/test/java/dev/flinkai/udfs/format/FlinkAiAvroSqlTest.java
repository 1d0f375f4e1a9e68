package dev.flinkai.udfs.format;

import dev.flinkai.operators.codec.AvroRecordCodec;
import dev.flinkai.operators.testing.KafkaTestBroker;
import dev.flinkai.schemas.Kpi;
import dev.flinkai.schemas.UserEvent;

import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.types.Row;
import org.apache.flink.util.CloseableIterator;
import org.apache.flink.util.ExceptionUtils;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The format in a SQL query on a MiniCluster, over a real Kafka topic written and read by the project's codec. */
class FlinkAiAvroSqlTest {

    @RegisterExtension
    static final KafkaTestBroker KAFKA = new KafkaTestBroker();

    @BeforeAll
    static void createTopics() throws Exception {
        KAFKA.createTopics(2, "user-events", "kpis", "bad");
    }

    private static TableEnvironment tableEnv() {
        TableEnvironment tEnv = TableEnvironment.create(EnvironmentSettings.inStreamingMode());
        tEnv.getConfig().set("parallelism.default", "2");
        return tEnv;
    }

    private static String kafkaTable(String name, String topic, String columns, String options) {
        return "CREATE TABLE " + name + " (" + columns + ") WITH ('connector' = 'kafka', 'topic' = '" + topic + "', "
                + "'properties.bootstrap.servers' = '" + KAFKA.bootstrapServers() + "', "
                + "'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', "
                + "'format' = 'flinkai-avro'" + options + ")";
    }

    /** The topic's events, a record that is no UserEvent among them: skipped and counted, the rest all read. */
    @Test
    void aQueryReadsTheEventsTheProjectWrote() throws Exception {
        List<UserEvent> events = FlinkAiAvroFormatTest.simulated(300);
        AvroRecordCodec<UserEvent> codec = new AvroRecordCodec<>(UserEvent.class);
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        for (UserEvent e : events) {
            records.add(new ProducerRecord<>("user-events", e.getUserId().getBytes(StandardCharsets.UTF_8),
                    codec.encode(e)));
        }
        records.add(new ProducerRecord<>("user-events", null, new byte[] {2, 'x'}));
        KAFKA.produce("user-events", records);

        TableEnvironment tEnv = tableEnv();
        tEnv.executeSql(kafkaTable("events", "user-events", "eventId STRING, userId STRING, eventType STRING, "
                + "feature STRING, rating INT, eventTimeMillis BIGINT",
                ", 'flinkai-avro.record' = 'UserEvent', 'flinkai-avro.ignore-parse-errors' = 'true'"));
        List<String> read = new ArrayList<>();
        try (CloseableIterator<Row> rows = tEnv.executeSql(
                "SELECT eventId, userId, eventType, feature, rating, eventTimeMillis FROM events").collect()) {
            rows.forEachRemaining(r -> read.add(r.getField(0) + "|" + r.getField(1) + "|" + r.getField(2) + "|"
                    + r.getField(3) + "|" + r.getField(4) + "|" + r.getField(5)));
        }
        assertThat(read).containsExactlyInAnyOrderElementsOf(events.stream().map(e -> e.getEventId() + "|"
                + e.getUserId() + "|" + e.getEventType() + "|" + e.getFeature() + "|" + e.getRating() + "|"
                + e.getEventTimeMillis()).toList());
    }

    /** Rows a query writes are Kpi records the project's codec reads, fields without a column at their default. */
    @Test
    void anInsertWritesRecordsTheProjectReads() throws Exception {
        TableEnvironment tEnv = tableEnv();
        tEnv.executeSql(kafkaTable("kpis", "kpis", "windowStartMillis TIMESTAMP(3), windowEndMillis BIGINT, "
                + "feature STRING, events BIGINT, sessions BIGINT, activeUsers BIGINT, featureUsers BIGINT, "
                + "adoption DOUBLE, taskOutcomes BIGINT, taskSuccesses BIGINT, ratings BIGINT, satisfaction DOUBLE",
                ", 'flinkai-avro.record' = 'Kpi'"));
        tEnv.executeSql("INSERT INTO kpis VALUES (TIMESTAMP '2026-12-02 10:00:00', 1796205600000 + 3600000, 'chat', "
                + "12, 3, 10, 4, 0.4, 2, 1, 0, CAST(NULL AS DOUBLE))").await();
        List<ConsumerRecord<byte[], byte[]>> written = KAFKA.readAllCommitted("kpis");
        assertThat(written).hasSize(1);
        Kpi kpi = new AvroRecordCodec<>(Kpi.class).decode(written.get(0).value());
        assertThat(kpi.getWindowStartMillis()).isEqualTo(1796205600000L); // 2026-12-02T10:00Z
        assertThat(kpi.getWindowEndMillis()).isEqualTo(1796205600000L + 3_600_000);
        assertThat(kpi.getFeature()).isEqualTo("chat");
        assertThat(kpi.getAdoption()).isEqualTo(0.4);
        assertThat(kpi.getSatisfaction()).isNull();
        assertThat(kpi.getTaskCompletionRate()).isNull(); // no column: the default
        assertThat(kpi.getLatencyP99Millis()).isNull();
    }

    @Test
    void aColumnThatIsNoFieldOfTheRecordFailsTheQueryNamingIt() {
        TableEnvironment tEnv = tableEnv();
        tEnv.executeSql(kafkaTable("bad", "bad", "userId STRING, userName STRING", ", 'flinkai-avro.record' = 'UserEvent'"));
        assertThatThrownBy(() -> tEnv.executeSql("SELECT * FROM bad"))
                .satisfies(e -> assertThat(ExceptionUtils.stringifyException(e))
                        .contains("The column 'userName' is not a field of the record UserEvent"));
        tEnv.executeSql(kafkaTable("misnamed", "bad", "userId STRING", ", 'flinkai-avro.record' = 'UserEvnt'"));
        assertThatThrownBy(() -> tEnv.executeSql("SELECT * FROM misnamed"))
                .satisfies(e -> assertThat(ExceptionUtils.stringifyException(e)).contains("Unknown record 'UserEvnt'"));
    }
}
