package dev.flinkai.udfs.context;

import dev.flinkai.operators.codec.AvroRecordCodec;
import dev.flinkai.operators.context.UserContextOperator;
import dev.flinkai.operators.features.FeatureExtractor;
import dev.flinkai.operators.features.ScoringRequest;
import dev.flinkai.operators.ingest.ReceivedRecord;
import dev.flinkai.operators.simulation.UserBehaviourSimulator;
import dev.flinkai.operators.testing.KafkaTestBroker;
import dev.flinkai.schemas.UserEvent;

import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.types.Row;
import org.apache.flink.util.CloseableIterator;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The SQL context function against the DataStream job's own operator, and its state's TTL. */
class UserContextFunctionTest {

    private static final String EVENT_COLUMNS = "eventId STRING, userId STRING, sessionId STRING, eventType STRING, "
            + "eventTimeMillis BIGINT, priority INT, feature STRING, latencyMillis INT, inputTokens INT, "
            + "outputTokens INT, success BOOLEAN, rating INT";
    /** Where FeatureExtractor puts log1p(the user's event count). */
    private static final int LOG_TOTAL_EVENTS = 4 * FeatureExtractor.EVENT_TYPES;

    private static TableEnvironment tableEnv(String ttl) {
        TableEnvironment tEnv = TableEnvironment.create(EnvironmentSettings.inStreamingMode());
        tEnv.getConfig().set("parallelism.default", "2");
        tEnv.getConfig().set("table.exec.state.ttl", ttl);
        tEnv.createTemporarySystemFunction("USER_CONTEXT", UserContextFunction.class);
        return tEnv;
    }

    @RegisterExtension
    static final KafkaTestBroker KAFKA = new KafkaTestBroker();

    @BeforeAll
    static void createTopics() throws Exception {
        KAFKA.createTopics(2, "user-events");
    }

    /** The events topic in the flinkai-avro format, every column of a UserEvent. */
    private static String eventsTable(String topic, String bounded) {
        return "CREATE TABLE events (" + EVENT_COLUMNS + ") WITH ('connector' = 'kafka', 'topic' = '" + topic
                + "', 'properties.bootstrap.servers' = '" + KAFKA.bootstrapServers() + "', "
                + "'scan.startup.mode' = 'earliest-offset', " + bounded + "'format' = 'flinkai-avro', "
                + "'flinkai-avro.record' = 'UserEvent')";
    }

    /** Every event's vector from SQL is the one UserContextOperator (the DataStream job's) computes, to the bit. */
    @Test
    void theFeaturesAreTheDataStreamJobs() throws Exception {
        UserBehaviourSimulator simulator = new UserBehaviourSimulator(11, 30, 0.8, 0, 1);
        List<UserEvent> events = new ArrayList<>();
        for (int i = 0; i < 600; i++) {
            events.add(simulator.next("ev-" + i, 1_700_000_000_000L + i * 7_000L));
        }

        Map<String, float[]> expected = new HashMap<>();
        try (KeyedOneInputStreamOperatorTestHarness<String, ReceivedRecord, ScoringRequest> harness =
                     new KeyedOneInputStreamOperatorTestHarness<>(new UserContextOperator(Duration.ofDays(7), 0),
                             ReceivedRecord::userId, Types.STRING)) {
            harness.open();
            for (UserEvent e : events) {
                harness.processElement(ReceivedRecord.valid(e, e.getEventTimeMillis()), e.getEventTimeMillis());
            }
            harness.extractOutputValues().forEach(r -> expected.put(r.eventId, r.features));
        }

        AvroRecordCodec<UserEvent> codec = new AvroRecordCodec<>(UserEvent.class);
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        for (UserEvent e : events) {
            records.add(new ProducerRecord<>("user-events", e.getUserId().getBytes(StandardCharsets.UTF_8),
                    codec.encode(e)));
        }
        KAFKA.produce("user-events", records);
        TableEnvironment tEnv = tableEnv("7 d");
        tEnv.executeSql(eventsTable("user-events", "'scan.bounded.mode' = 'latest-offset', "));
        Map<String, float[]> fromSql = new HashMap<>();
        try (CloseableIterator<Row> rows = tEnv.executeSql("SELECT userId, eventId, features FROM USER_CONTEXT("
                + "input => TABLE events PARTITION BY userId, uid => 'user-context')").collect()) {
            rows.forEachRemaining(r -> {
                Float[] boxed = r.getFieldAs("features");
                float[] features = new float[boxed.length];
                for (int i = 0; i < boxed.length; i++) {
                    features[i] = boxed[i];
                }
                fromSql.put(r.getFieldAs("eventId"), features);
            });
        }
        assertThat(fromSql).hasSize(events.size());
        assertThat(fromSql.values()).allSatisfy(f -> assertThat(f).hasSize(FeatureExtractor.FEATURE_COUNT));
        for (UserEvent e : events) {
            assertThat(fromSql.get(e.getEventId())).as(e.getEventId()).isEqualTo(expected.get(e.getEventId()));
        }
    }

    /**
     * A user's second event, read only after the first one's features came out: with a TTL of 1 ms the context has
     * expired in between and the user starts anew; with the job's 7 days it counts both events.
     */
    @Test
    void theContextExpiresAfterTheStateTtl() throws Exception {
        assertThat(eventsCountedBySecondEvent("1 ms")).isEqualTo(1);
        assertThat(eventsCountedBySecondEvent("7 d")).isEqualTo(2);
    }

    private static long eventsCountedBySecondEvent(String ttl) throws Exception {
        String topic = "events-ttl-" + ttl.replace(' ', '-');
        UserBehaviourSimulator simulator = new UserBehaviourSimulator(5, 1, 0.8, 0, 1);
        AvroRecordCodec<UserEvent> codec = new AvroRecordCodec<>(UserEvent.class);
        KAFKA.createTopics(1, topic);
        TableEnvironment tEnv = tableEnv(ttl);
        tEnv.executeSql(eventsTable(topic, ""));
        try (CloseableIterator<Row> rows = tEnv.executeSql("SELECT eventId, features FROM USER_CONTEXT("
                + "input => TABLE events PARTITION BY userId, uid => 'user-context')").collect()) {
            float eventsFeature = 0;
            for (int i = 0; i < 2; i++) {
                UserEvent e = simulator.next("ev-" + i, 1_700_000_000_000L + i);
                KAFKA.produce(topic, List.of(new ProducerRecord<>(topic,
                        e.getUserId().getBytes(StandardCharsets.UTF_8), codec.encode(e))));
                Row r = rows.next(); // the first event's features are out before the second is written
                assertThat(r.<String>getFieldAs("eventId")).isEqualTo(e.getEventId());
                eventsFeature = r.<Float[]>getFieldAs("features")[LOG_TOTAL_EVENTS];
            }
            return Math.round(Math.expm1(eventsFeature));
        }
    }
}
