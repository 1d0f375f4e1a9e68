package dev.flinkai.operators.detectors;

import dev.flinkai.schemas.DeadLetter;
import dev.flinkai.schemas.Prediction;
import dev.flinkai.schemas.UserEvent;

import org.apache.flink.api.common.ExecutionConfig;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.KeyedStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.functions.windowing.ProcessWindowFunction;
import org.apache.flink.streaming.api.windowing.assigners.WindowAssigner;
import org.apache.flink.streaming.api.windowing.triggers.Trigger;
import org.apache.flink.streaming.api.windowing.triggers.TriggerResult;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;

import java.time.Duration;
import java.util.Collection;
import java.util.List;

/**
 * The ops job's statistics: user events paired with their predictions ({@link EventPredictionJoin}), then per series
 * (feature and model version) and event-time tumbling window one {@link WindowStats}; beside them, per window, the
 * totals over every feature ({@link Observation#ALL}), which also count the main job's dead letters ({@link
 * WindowTotals}: summed from the series' and the dead-letter partitions' windows, not from every record). The inputs must
 * carry event-time timestamps and watermarks whose out-of-orderness bound is the lateness allowed: records within it
 * change no result; later ones reach {@link Statistics#late()} instead (the caller counts them).
 *
 * <p>A window is emitted once, when the watermark passes its end plus the prediction wait: by then every event of it
 * has been paired or counted unscored. Windows assign by {@link Observation#eventTimeMillis}, not by the record's
 * timestamp, because an event counted unscored is emitted at its timer's time.
 */
public final class WindowStatsStage {

    private WindowStatsStage() {}

    /** uids of the stage's stateful operators: stable, so a savepoint restores their state. */
    public static final String JOIN_UID = "ops-event-prediction-join";
    public static final String WINDOW_UID = "ops-window-stats";
    public static final String DEAD_LETTERS_UID = "ops-window-dead-letters";
    public static final String TOTALS_UID = "ops-window-totals";

    /** The windows of every series and of the totals, and the records that came too late for theirs. */
    public record Statistics(DataStream<WindowStats> windows, DataStream<Observation> late) {}

    public static Statistics apply(DataStream<UserEvent> events, DataStream<Prediction> predictions,
                                   DataStream<DeadLetter> deadLetters, Duration window, Duration predictionWait) {
        if (window.isNegative() || window.isZero()) {
            throw new IllegalArgumentException("window must be positive, got " + window);
        }
        TypeInformation<Observation> observationType = TypeInformation.of(Observation.class);
        OutputTag<Observation> late = new OutputTag<>("late", observationType);
        DataStream<Observation> observations = events.keyBy(UserEvent::getEventId)
                .connect(predictions.keyBy(Prediction::getEventId))
                .process(new EventPredictionJoin(predictionWait), observationType)
                .uid(JOIN_UID).name("Pair events with their predictions");
        SingleOutputStreamOperator<WindowStats> perSeries = windowed(observations.keyBy(Observation::seriesKey),
                window, predictionWait, late)
                .uid(WINDOW_UID).name("Window statistics per feature and model version");
        SingleOutputStreamOperator<WindowStats> perPartition = windowed(deadLetters
                        .map(Observation::deadLetter, observationType).name("Count dead letters")
                        .keyBy(Observation::seriesKey), window, predictionWait, late)
                .uid(DEAD_LETTERS_UID).name("Dead letters per window and source partition");
        DataStream<WindowStats> totals = perSeries.union(perPartition)
                .keyBy(w -> Observation.ALL)
                .process(new WindowTotals(predictionWait), WindowStatsSerializer.TYPE)
                .uid(TOTALS_UID).name("Window totals over every feature");
        return new Statistics(perSeries.union(totals),
                perSeries.getSideOutput(late).union(perPartition.getSideOutput(late)));
    }

    static SingleOutputStreamOperator<WindowStats> windowed(KeyedStream<Observation, String> observations,
                                                                     Duration window, Duration predictionWait,
                                                                     OutputTag<Observation> late) {
        return observations
                .window(new TumblingByEventTime(window.toMillis()))
                .trigger(new AfterEndAndWait(predictionWait.toMillis()))
                .allowedLateness(predictionWait)
                .sideOutputLateData(late)
                .aggregate(new WindowStatsAccumulator.Aggregate(), new ToWindowStats(), WindowStatsAccumulator.TYPE,
                        WindowStatsAccumulator.TYPE, WindowStatsSerializer.TYPE);
    }

    /** Tumbling windows, epoch-aligned, by the observation's own event time. */
    static final class TumblingByEventTime extends WindowAssigner<Object, TimeWindow> {
        private static final long serialVersionUID = 1L;
        private final long size;

        TumblingByEventTime(long size) {
            this.size = size;
        }

        @Override
        public Collection<TimeWindow> assignWindows(Object element, long timestamp, WindowAssignerContext context) {
            long time = ((Observation) element).eventTimeMillis;
            long start = TimeWindow.getWindowStartWithOffset(time, 0, size);
            return List.of(new TimeWindow(start, start + size));
        }

        @Override
        public Trigger<Object, TimeWindow> getDefaultTrigger() {
            return new AfterEndAndWait(0);
        }

        @Override
        public TypeSerializer<TimeWindow> getWindowSerializer(ExecutionConfig executionConfig) {
            return new TimeWindow.Serializer();
        }

        @Override
        public boolean isEventTime() {
            return true;
        }
    }

    /** Fires once, when the watermark passes the window's end plus {@code waitMillis}. */
    static final class AfterEndAndWait extends Trigger<Object, TimeWindow> {
        private static final long serialVersionUID = 1L;
        private final long waitMillis;

        AfterEndAndWait(long waitMillis) {
            this.waitMillis = waitMillis;
        }

        @Override
        public TriggerResult onElement(Object element, long timestamp, TimeWindow window, TriggerContext ctx) {
            ctx.registerEventTimeTimer(window.maxTimestamp() + waitMillis);
            return TriggerResult.CONTINUE;
        }

        @Override
        public TriggerResult onEventTime(long time, TimeWindow window, TriggerContext ctx) {
            return time == window.maxTimestamp() + waitMillis ? TriggerResult.FIRE : TriggerResult.CONTINUE;
        }

        @Override
        public TriggerResult onProcessingTime(long time, TimeWindow window, TriggerContext ctx) {
            return TriggerResult.CONTINUE;
        }

        @Override
        public void clear(TimeWindow window, TriggerContext ctx) {
            ctx.deleteEventTimeTimer(window.maxTimestamp() + waitMillis);
        }
    }

    /** The window's statistics, stamped with its end. */
    static final class ToWindowStats
            extends ProcessWindowFunction<WindowStatsAccumulator, WindowStats, String, TimeWindow> {
        private static final long serialVersionUID = 1L;

        @Override
        public void process(String key, Context context, Iterable<WindowStatsAccumulator> accumulators,
                            Collector<WindowStats> out) {
            out.collect(accumulators.iterator().next().toStats(context.window().getEnd()));
        }
    }
}
