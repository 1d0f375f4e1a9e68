package dev.flinkai.operators.detectors;

import dev.flinkai.schemas.Alert;
import dev.flinkai.schemas.AlertKind;
import dev.flinkai.schemas.AlertSeverity;
import dev.flinkai.schemas.AlertState;
import dev.flinkai.schemas.EventType;
import dev.flinkai.schemas.DeadLetter;
import dev.flinkai.schemas.Prediction;
import dev.flinkai.schemas.UserEvent;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

/**
 * The statistics stage and the detectors chained as the ops job chains them, on a MiniCluster: a five-minute latency
 * spike in one feature's events becomes an alert that warns, escalates and resolves.
 */
class StatisticsToAlertsTest {

    @RegisterExtension
    static final MiniClusterExtension CLUSTER = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1).setNumberSlotsPerTaskManager(1).build());

    private static final long MINUTE = 60_000;

    /**
     * 40 minutes of chat, 100 events a minute, each scored by 1.0.0, with latencies of 200 to 600 ms (p99 ≈ 600); in
     * minutes 25 to 29 every latency is 5 times as long (p99 ≈ 3,000 ms, beyond the 1,000 ms limit).
     */
    @Test
    void aLatencySpikeInTheEventsWarnsEscalatesAndResolves() throws Exception {
        Random random = new Random(3);
        List<UserEvent> events = new ArrayList<>();
        List<Prediction> predictions = new ArrayList<>();
        for (int minute = 0; minute < 40; minute++) {
            for (int i = 0; i < 100; i++) {
                long time = minute * MINUTE + i * 600L;
                int latency = 200 + random.nextInt(401);
                UserEvent event = UserEvent.newBuilder().setEventId(minute + "-" + i).setUserId("u" + i)
                        .setSessionId("s").setEventType(EventType.QUERY).setEventTimeMillis(time).setFeature("chat")
                        .setLatencyMillis(minute >= 25 && minute < 30 ? latency * 5 : latency).build();
                events.add(event);
                predictions.add(Prediction.newBuilder().setEventId(event.getEventId()).setUserId(event.getUserId())
                        .setModelName("m").setModelVersion("1.0.0").setScores(List.of(1f)).setLabel("QUERY")
                        .setFallback(false).setEventTimeMillis(time).setIngestTimeMillis(time)
                        .setPredictTimeMillis(time + 5).build());
            }
        }
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(1);
        Duration lateness = Duration.ofSeconds(10);
        var eventStream = env.fromData(events, new AvroTypeInfo<>(UserEvent.class)).assignTimestampsAndWatermarks(
                WatermarkStrategy.<UserEvent>forBoundedOutOfOrderness(lateness)
                        .withTimestampAssigner((e, ts) -> e.getEventTimeMillis()));
        var predictionStream = env.fromData(predictions, new AvroTypeInfo<>(Prediction.class))
                .assignTimestampsAndWatermarks(WatermarkStrategy.<Prediction>forBoundedOutOfOrderness(lateness)
                        .withTimestampAssigner((p, ts) -> p.getEventTimeMillis()));
        // one record the main job could not use: under 1 % of its window's, below the dead-letter limit
        var deadLetters = env.fromData(List.of(DeadLetter.newBuilder().setSourceTopic("user-events")
                        .setSourcePartition(0).setSourceOffset(0).setReason("not Avro").setFailedAtMillis(3 * MINUTE)
                        .build()), new AvroTypeInfo<>(DeadLetter.class))
                .assignTimestampsAndWatermarks(WatermarkStrategy.<DeadLetter>forBoundedOutOfOrderness(lateness)
                        .withTimestampAssigner((d, ts) -> d.getFailedAtMillis()));
        var alerts = WindowStatsStage.apply(eventStream, predictionStream, deadLetters, Duration.ofMinutes(1),
                        Duration.ofSeconds(10)).windows()
                .keyBy(WindowStats::feature)
                .process(new DetectorFunction(DetectorSettings.builder().build()));
        List<Alert> out = new ArrayList<>();
        alerts.executeAndCollect().forEachRemaining(out::add);

        assertThat(out).extracting(Alert::getKey).containsOnly("feature=chat,model=1.0.0,metric=latencyP99");
        assertThat(out).filteredOn(a -> a.getKind() == AlertKind.THRESHOLD)
                .extracting(Alert::getState, Alert::getSeverity, Alert::getLastSeenMillis)
                .containsExactly(
                        tuple(AlertState.FIRING, AlertSeverity.WARNING, 26 * MINUTE),
                        tuple(AlertState.FIRING, AlertSeverity.CRITICAL, 28 * MINUTE),
                        tuple(AlertState.RESOLVED, AlertSeverity.CRITICAL, 30 * MINUTE));
        assertThat(out).filteredOn(a -> a.getState() == AlertState.RESOLVED).extracting(Alert::getMessage)
                .allSatisfy(m -> assertThat(m).startsWith("clear for 1 window(s) up to " + 31 * MINUTE));
    }
}
