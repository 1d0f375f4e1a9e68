package dev.flinkai.jobs;

import dev.flinkai.operators.codec.AvroRecordCodec;
import dev.flinkai.operators.simulation.UserBehaviourSimulator;
import dev.flinkai.operators.testing.KafkaTestBroker;
import dev.flinkai.schemas.EventType;
import dev.flinkai.schemas.Kpi;
import dev.flinkai.schemas.KpiKey;
import dev.flinkai.schemas.UserEvent;

import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The SQL KPI job on a MiniCluster with real Kafka, over a bounded run of simulated events: the latest Kpi per key on
 * the kpis topic is what plain loops over the same events give.
 */
class KpiJobIT {

    private static final long HOUR = 3_600_000L;
    private static final long GAP = 30 * 60_000L;
    private static final long START = 1_796_083_200_000L; // 2026-12-01T00:00Z

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(2)
            .build());

    @RegisterExtension
    static final KafkaTestBroker KAFKA = new KafkaTestBroker();

    @BeforeAll
    static void createTopics() throws Exception {
        KAFKA.createTopics(2, "user-events", "kpis");
    }

    @Test
    void theKpisPerHourAndFeatureAreThoseOfTheEvents() throws Exception {
        List<UserEvent> events = events();
        AvroRecordCodec<UserEvent> codec = new AvroRecordCodec<>(UserEvent.class);
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        for (UserEvent e : events) {
            records.add(new ProducerRecord<>("user-events", e.getUserId().getBytes(StandardCharsets.UTF_8),
                    codec.encode(e)));
        }
        KAFKA.produce("user-events", records);

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(2);
        KpiJob.run(StreamTableEnvironment.create(env), KpiSettings.fromArgs(
                "--kafka.bootstrap-servers", KAFKA.bootstrapServers(), "--bounded", "true")).await();

        Map<KpiKey, Kpi> latest = new HashMap<>();
        AvroRecordCodec<KpiKey> keys = new AvroRecordCodec<>(KpiKey.class);
        AvroRecordCodec<Kpi> values = new AvroRecordCodec<>(Kpi.class);
        for (ConsumerRecord<byte[], byte[]> r : KAFKA.readAllCommitted("kpis")) {
            KpiKey key = keys.decode(r.key());
            Kpi kpi = values.decode(r.value());
            assertThat(key.getWindowStartMillis()).isEqualTo(kpi.getWindowStartMillis());
            assertThat(key.getFeature()).isEqualTo(kpi.getFeature());
            latest.put(key, kpi);
        }
        Map<KpiKey, Kpi> expected = expected(events);
        assertThat(expected).hasSizeGreaterThan(10);
        assertThat(new TreeMap<>(latest).toString()).isEqualTo(new TreeMap<>(expected).toString());
        assertThat(latest).isEqualTo(expected);
    }

    /** Three hours of simulated users, a few seconds out of order, some without a feature. */
    private static List<UserEvent> events() {
        UserBehaviourSimulator simulator = new UserBehaviourSimulator(21, 40, 0.8, 0, 1);
        Random random = new Random(5);
        List<UserEvent> events = new ArrayList<>();
        for (int i = 0; i < 900; i++) {
            UserEvent e = simulator.next("ev-" + i, START + i * 12_000L + random.nextInt(10_000));
            if (random.nextInt(30) == 0) {
                e.setFeature(null);
            }
            events.add(e);
        }
        return events;
    }

    /** The KPIs by plain loops: per hour and feature, sessions per user and feature split at 30 min gaps. */
    private static Map<KpiKey, Kpi> expected(List<UserEvent> events) {
        Map<Long, Set<String>> activeUsers = new HashMap<>();
        Map<KpiKey, List<UserEvent>> byWindow = new LinkedHashMap<>();
        Map<String, List<UserEvent>> byUserAndFeature = new HashMap<>();
        for (UserEvent e : events) {
            long window = Math.floorDiv(e.getEventTimeMillis(), HOUR) * HOUR;
            activeUsers.computeIfAbsent(window, w -> new HashSet<>()).add(e.getUserId());
            if (e.getFeature() != null) {
                byWindow.computeIfAbsent(new KpiKey(window, e.getFeature()), k -> new ArrayList<>()).add(e);
                byUserAndFeature.computeIfAbsent(e.getUserId() + "/" + e.getFeature(), k -> new ArrayList<>()).add(e);
            }
        }
        Map<KpiKey, Long> sessions = new HashMap<>();
        for (List<UserEvent> visits : byUserAndFeature.values()) {
            visits.sort(Comparator.comparingLong(UserEvent::getEventTimeMillis));
            long last = Long.MIN_VALUE;
            for (UserEvent e : visits) {
                if (last == Long.MIN_VALUE || e.getEventTimeMillis() - last >= GAP) {
                    long window = Math.floorDiv(e.getEventTimeMillis(), HOUR) * HOUR;
                    sessions.merge(new KpiKey(window, e.getFeature()), 1L, Long::sum);
                }
                last = e.getEventTimeMillis();
            }
        }
        Map<KpiKey, Kpi> expected = new HashMap<>();
        for (Map.Entry<KpiKey, List<UserEvent>> w : byWindow.entrySet()) {
            long window = w.getKey().getWindowStartMillis();
            Set<String> users = new HashSet<>();
            long outcomes = 0;
            long successes = 0;
            long ratings = 0;
            long ratingSum = 0;
            List<Integer> latencies = new ArrayList<>();
            for (UserEvent e : w.getValue()) {
                users.add(e.getUserId());
                if (e.getEventType() == EventType.TASK_OUTCOME) {
                    outcomes++;
                    successes += Boolean.TRUE.equals(e.getSuccess()) ? 1 : 0;
                }
                if (e.getEventType() == EventType.FEEDBACK && e.getRating() != null) {
                    ratings++;
                    ratingSum += e.getRating();
                }
                if (e.getLatencyMillis() > 0) {
                    latencies.add(e.getLatencyMillis());
                }
            }
            assertThat(latencies).as("few enough for the sketch to be exact").hasSizeLessThan(200);
            latencies.sort(Integer::compare);
            long active = activeUsers.get(window).size();
            expected.put(w.getKey(), Kpi.newBuilder()
                    .setWindowStartMillis(window)
                    .setWindowEndMillis(window + HOUR)
                    .setFeature(w.getKey().getFeature())
                    .setEvents(w.getValue().size())
                    .setSessions(sessions.getOrDefault(w.getKey(), 0L))
                    .setActiveUsers(active)
                    .setFeatureUsers(users.size())
                    .setAdoption((double) users.size() / active)
                    .setTaskOutcomes(outcomes)
                    .setTaskSuccesses(successes)
                    .setTaskCompletionRate(outcomes == 0 ? null : (double) successes / outcomes)
                    .setRatings(ratings)
                    .setSatisfaction(ratings == 0 ? null : (double) ratingSum / ratings)
                    .setLatencyP50Millis(latencies.isEmpty() ? null : inclusive(latencies, 0.5))
                    .setLatencyP95Millis(latencies.isEmpty() ? null : inclusive(latencies, 0.95))
                    .setLatencyP99Millis(latencies.isEmpty() ? null : inclusive(latencies, 0.99))
                    .build());
        }
        return expected;
    }

    /** The smallest value whose share of values at or below it reaches {@code rank}. */
    private static double inclusive(List<Integer> sorted, double rank) {
        return sorted.get((int) Math.ceil(rank * sorted.size()) - 1);
    }
}
