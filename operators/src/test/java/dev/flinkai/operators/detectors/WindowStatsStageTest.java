package dev.flinkai.operators.detectors;

import dev.flinkai.schemas.DeadLetter;
import dev.flinkai.schemas.EventType;
import dev.flinkai.schemas.Prediction;
import dev.flinkai.schemas.UserEvent;

import org.apache.flink.api.common.eventtime.SerializableTimestampAssigner;
import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.eventtime.WatermarkGenerator;
import org.apache.flink.api.common.eventtime.WatermarkOutput;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.util.CloseableIterator;
import org.apache.flink.util.OutputTag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.ToLongFunction;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

/**
 * The ops job's statistics on a MiniCluster: events paired with their predictions, windowed per feature and model
 * version, against values worked out by hand; out-of-order events within the allowed lateness change nothing, later
 * ones are handed on as late (tested on the windows alone: with several bounded sources, whether a record is late
 * depends on which source's watermark reached the join first).
 */
class WindowStatsStageTest {

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1).setNumberSlotsPerTaskManager(2).build());

    private static final Duration WINDOW = Duration.ofMinutes(1);
    private static final Duration PREDICTION_WAIT = Duration.ofSeconds(10);
    private static final long LATENESS_MILLIS = 5_000;

    private static UserEvent event(String id, long time, String feature, EventType type, int latency, Boolean success) {
        return UserEvent.newBuilder().setEventId(id).setUserId("u-" + id).setSessionId("s").setEventType(type)
                .setEventTimeMillis(time).setFeature(feature).setLatencyMillis(latency).setSuccess(success).build();
    }

    private static Prediction prediction(UserEvent e, String version, String label, boolean fallback) {
        return Prediction.newBuilder().setEventId(e.getEventId()).setUserId(e.getUserId()).setModelName("m")
                .setModelVersion(version).setScores(List.of(1f)).setLabel(label).setFallback(fallback)
                .setEventTimeMillis(e.getEventTimeMillis()).setIngestTimeMillis(e.getEventTimeMillis())
                .setPredictTimeMillis(e.getEventTimeMillis() + 3).build();
    }

    /** Window [0, 60 s): chat scored by 1.0.0 (three events), one chat event never scored; [60 s, 120 s): search. */
    private static final List<UserEvent> EVENTS = List.of(
            event("a", 1_000, "chat", EventType.QUERY, 100, null),
            event("b", 12_000, "chat", EventType.TASK_OUTCOME, 300, false),
            event("c", 30_000, "chat", EventType.TASK_OUTCOME, 200, true),
            event("d", 45_000, "chat", EventType.QUERY, 900, null),
            event("e", 61_000, "search", EventType.ACTION, 50, null),
            event("f", 75_000, "search", EventType.TASK_OUTCOME, 0, false));
    private static final List<Prediction> PREDICTIONS = List.of(
            prediction(EVENTS.get(0), "1.0.0", "ACTION", false),
            prediction(EVENTS.get(1), "1.0.0", "QUERY", false),
            prediction(EVENTS.get(2), "1.0.0", "QUERY", true),
            prediction(EVENTS.get(4), "2.0.0", "TASK_OUTCOME", false),
            prediction(EVENTS.get(5), "2.0.0", "FEEDBACK", false));

    /** Two records the main job could not use, in the first window. */
    private static final List<DeadLetter> DEAD_LETTERS = List.of(deadLetter(20_000), deadLetter(50_000));

    /**
     * Worked out by hand from the lists above (KLL is exact for this few values: a quantile is an input value; every
     * prediction came 3 ms after its event entered the pipeline; a p99 of so few latencies is their maximum, with no
 * spread around it). The totals count every event and dead letter.
     */
    private static final List<WindowStats> EXPECTED = List.of(
            new WindowStats("chat", "1.0.0", 60_000, 3, 200, 300, 300, 2, 1, 3, 1, Map.of("ACTION", 1L, "QUERY", 2L),
                    3, 3, 0, 0),
            new WindowStats("chat", Observation.UNSCORED, 60_000, 1, 900, 900, 900, 0, 0, 0, 0, Map.of(),
                    Double.NaN, Double.NaN, 0, 0),
            new WindowStats(Observation.ALL, Observation.ALL, 60_000, 6, Double.NaN, Double.NaN, Double.NaN,
                    0, 0, 0, 0, Map.of(), Double.NaN, Double.NaN, 2, Double.NaN),
            new WindowStats("search", "2.0.0", 120_000, 2, 50, 50, 50, 1, 1, 2, 0,
                    Map.of("TASK_OUTCOME", 1L, "FEEDBACK", 1L), 3, 3, 0, 0),
            new WindowStats(Observation.ALL, Observation.ALL, 120_000, 2, Double.NaN, Double.NaN, Double.NaN,
                    0, 0, 0, 0, Map.of(), Double.NaN, Double.NaN, 0, Double.NaN));

    private static DeadLetter deadLetter(long time) {
        return DeadLetter.newBuilder().setSourceTopic("user-events").setSourcePartition(0).setSourceOffset(time)
                .setReason("not Avro").setFailedAtMillis(time).build();
    }

    private record Run(List<WindowStats> stats, List<Observation> late) {}

    /** A watermark after every record that moves it: deterministic, unlike periodic ones on a fast bounded source. */
    private static <T> WatermarkStrategy<T> boundedOutOfOrder(SerializableTimestampAssigner<T> time) {
        return WatermarkStrategy.<T>forGenerator(context -> new WatermarkGenerator<>() {
            private long max = Long.MIN_VALUE;

            @Override
            public void onEvent(T element, long timestamp, WatermarkOutput output) {
                if (timestamp > max) {
                    max = timestamp;
                    output.emitWatermark(new Watermark(max - LATENESS_MILLIS));
                }
            }

            @Override
            public void onPeriodicEmit(WatermarkOutput output) {}
        }).withTimestampAssigner(time);
    }

    private static Run run(List<UserEvent> events, List<Prediction> predictions, List<DeadLetter> deadLetters)
            throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(2);
        DataStream<UserEvent> eventStream = env.fromData(events, new AvroTypeInfo<>(UserEvent.class)).setParallelism(1)
                .assignTimestampsAndWatermarks(boundedOutOfOrder((e, ts) -> e.getEventTimeMillis())).setParallelism(1);
        DataStream<Prediction> predictionStream = env.fromData(predictions, new AvroTypeInfo<>(Prediction.class))
                .setParallelism(1)
                .assignTimestampsAndWatermarks(boundedOutOfOrder((p, ts) -> p.getEventTimeMillis())).setParallelism(1);
        DataStream<DeadLetter> deadLetterStream = env.fromData(deadLetters, new AvroTypeInfo<>(DeadLetter.class))
                .setParallelism(1)
                .assignTimestampsAndWatermarks(boundedOutOfOrder((d, ts) -> d.getFailedAtMillis())).setParallelism(1);
        WindowStatsStage.Statistics stats =
                WindowStatsStage.apply(eventStream, predictionStream, deadLetterStream, WINDOW, PREDICTION_WAIT);
        List<WindowStats> out = new ArrayList<>();
        List<Observation> late = new ArrayList<>();
        try (CloseableIterator<WindowStats> s = stats.windows().collectAsync();
             CloseableIterator<Observation> l = stats.late().collectAsync()) {
            env.execute("window-stats-test");
            s.forEachRemaining(out::add);
            l.forEachRemaining(late::add);
        }
        out.sort(Comparator.comparing(WindowStats::windowEndMillis).thenComparing(WindowStats::seriesKey));
        return new Run(out, late);
    }

    private static List<WindowStats> sorted(List<WindowStats> stats) {
        List<WindowStats> copy = new ArrayList<>(stats);
        copy.sort(Comparator.comparing(WindowStats::windowEndMillis).thenComparing(WindowStats::seriesKey));
        return copy;
    }

    @Test
    void eachWindowOfEachSeriesHasTheStatisticsOfItsEvents() throws Exception {
        Run run = run(EVENTS, PREDICTIONS, DEAD_LETTERS);

        assertThat(run.stats()).containsExactlyElementsOf(sorted(EXPECTED));
        assertThat(run.late()).isEmpty();
    }

    @Test
    void outOfOrderEventsWithinTheLatenessChangeNoResult() throws Exception {
        // three minutes of traffic, an event every 200 ms, nine in ten scored by one of two versions
        Random random = new Random(5);
        String[] features = {"chat", "search", "code"};
        List<UserEvent> events = new ArrayList<>();
        List<Prediction> predictions = new ArrayList<>();
        for (int i = 0; i < 900; i++) {
            UserEvent e = event("g" + i, i * 200L, features[random.nextInt(3)],
                    i % 4 == 0 ? EventType.TASK_OUTCOME : EventType.QUERY, 50 + random.nextInt(2_000),
                    i % 4 == 0 ? random.nextBoolean() : null);
            events.add(e);
            if (random.nextInt(10) > 0) {
                predictions.add(prediction(e, i < 450 ? "1.0.0" : "2.0.0", random.nextBoolean() ? "QUERY" : "ACTION",
                        random.nextInt(20) == 0));
            }
        }
        List<DeadLetter> deadLetters = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            deadLetters.add(deadLetter(i * 6_000L + random.nextInt(6_000)));
        }
        List<WindowStats> inOrder = run(events, predictions, deadLetters).stats();
        assertThat(inOrder).extracting(WindowStats::events).as("events per window and series").allMatch(n -> n > 0);
        assertThat(inOrder.stream().filter(w -> !w.feature().equals(Observation.ALL)).mapToLong(WindowStats::events)
                .sum()).isEqualTo(events.size());
        assertThat(inOrder.stream().mapToLong(WindowStats::deadLetters).sum()).isEqualTo(deadLetters.size());

        for (long seed = 1; seed <= 3; seed++) {
            Random delays = new Random(seed);
            // each record arrives up to just under the lateness after its event time
            Run shuffled = run(byArrival(events, delays, UserEvent::getEventTimeMillis),
                    byArrival(predictions, delays, Prediction::getEventTimeMillis),
                    byArrival(deadLetters, delays, DeadLetter::getFailedAtMillis));

            assertThat(shuffled.stats()).as("seed %d", seed).containsExactlyElementsOf(inOrder);
            assertThat(shuffled.late()).isEmpty();
        }
    }

    /**
     * The windows alone, on one source so the order is deterministic: a record within the lateness after its window
     * ended is still counted in it; one later than that goes to the late output, not into any result.
     */
    @Test
    void aRecordLaterThanTheLatenessIsHandedOnAsLateNotCounted() throws Exception {
        long[] arrivalOrder = {1_000, 30_000, 71_000, 58_000, 76_000, 50_000};
        List<Observation> observations = new ArrayList<>();
        for (long time : arrivalOrder) {
            observations.add(Observation.of(event("t" + time, time, "chat", EventType.QUERY, 100, null), null));
        }
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(1);
        OutputTag<Observation> lateTag = new OutputTag<>("late", TypeInformation.of(Observation.class));
        var windows = WindowStatsStage.windowed(env.fromData(observations, TypeInformation.of(Observation.class))
                .assignTimestampsAndWatermarks(boundedOutOfOrder((o, ts) -> o.eventTimeMillis))
                .keyBy(Observation::seriesKey), WINDOW, PREDICTION_WAIT, lateTag);
        List<WindowStats> out = new ArrayList<>();
        List<Observation> late = new ArrayList<>();
        try (CloseableIterator<WindowStats> s = windows.collectAsync();
             CloseableIterator<Observation> l = windows.getSideOutput(lateTag).collectAsync()) {
            env.execute("late-records-test");
            s.forEachRemaining(out::add);
            l.forEachRemaining(late::add);
        }

        // 58 s arrives at watermark 66 s, before [0, 60 s) fires at 70 s; 50 s arrives at watermark 71 s, after.
        assertThat(out).extracting(WindowStats::windowEndMillis, WindowStats::events)
                .containsExactly(tuple(60_000L, 3L), tuple(120_000L, 2L));
        assertThat(late).extracting(o -> o.eventTimeMillis).containsExactly(50_000L);
    }

    /** {@code records} in the order they arrive when each is delayed by a random 0 to 4.9 s after its time. */
    private static <T> List<T> byArrival(List<T> records, Random random, ToLongFunction<T> time) {
        List<Map.Entry<Long, T>> arrivals = new ArrayList<>();
        for (T r : records) {
            arrivals.add(Map.entry(time.applyAsLong(r) + random.nextInt((int) LATENESS_MILLIS - 100), r));
        }
        arrivals.sort(Map.Entry.comparingByKey());
        return arrivals.stream().map(Map.Entry::getValue).toList();
    }
}
