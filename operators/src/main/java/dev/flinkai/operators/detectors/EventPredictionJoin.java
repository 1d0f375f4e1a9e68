package dev.flinkai.operators.detectors;

import dev.flinkai.schemas.Prediction;
import dev.flinkai.schemas.UserEvent;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.co.KeyedCoProcessFunction;
import org.apache.flink.util.Collector;

import java.time.Duration;

/**
 * Pairs each user event with the prediction of it (keyed by event id, in event time): the event's feature and the
 * version that scored it make the ops job's series. An event waits at most {@code wait} of event time for its
 * prediction, then counts as {@link Observation#UNSCORED}; a prediction whose event does not come within that wait
 * (or a second prediction of an event, at-least-once) is counted in the metric {@code unmatchedPredictions} and
 * dropped. Every key's state is gone once its timer fired.
 *
 * <p>An observation keeps its event's time in {@link Observation#eventTimeMillis}: one emitted by the timer carries the
 * timer's timestamp, so the windows after this assign by that field ({@link WindowStatsStage}).
 */
public class EventPredictionJoin extends KeyedCoProcessFunction<String, UserEvent, Prediction, Observation> {
    private static final long serialVersionUID = 1L;

    private final long waitMillis;
    private transient ValueState<UserEvent> event;
    private transient ValueState<Prediction> prediction;
    private transient Counter unmatchedPredictions;

    public EventPredictionJoin(Duration wait) {
        if (wait.isNegative() || wait.isZero()) {
            throw new IllegalArgumentException("wait must be positive, got " + wait);
        }
        this.waitMillis = wait.toMillis();
    }

    @Override
    public void open(OpenContext openContext) {
        event = getRuntimeContext().getState(new ValueStateDescriptor<>("event", new AvroTypeInfo<>(UserEvent.class)));
        prediction = getRuntimeContext().getState(
                new ValueStateDescriptor<>("prediction", new AvroTypeInfo<>(Prediction.class)));
        unmatchedPredictions = getRuntimeContext().getMetricGroup().counter("unmatchedPredictions");
    }

    @Override
    public void processElement1(UserEvent e, Context ctx, Collector<Observation> out) throws Exception {
        Prediction p = prediction.value();
        if (p != null) {
            out.collect(Observation.of(e, p));
            prediction.clear();
        } else if (event.value() == null) {
            event.update(e);
            ctx.timerService().registerEventTimeTimer(e.getEventTimeMillis() + waitMillis);
        }
        // else: the same event id again (an at-least-once replay): counted once
    }

    @Override
    public void processElement2(Prediction p, Context ctx, Collector<Observation> out) throws Exception {
        UserEvent e = event.value();
        if (e != null) {
            out.collect(Observation.of(e, p));
            event.clear();
        } else if (prediction.value() == null) {
            prediction.update(p);
            ctx.timerService().registerEventTimeTimer(p.getEventTimeMillis() + waitMillis);
        } else {
            unmatchedPredictions.inc();
        }
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<Observation> out) throws Exception {
        UserEvent e = event.value();
        if (e != null) {
            out.collect(Observation.of(e, null));
            event.clear();
        }
        if (prediction.value() != null) {
            unmatchedPredictions.inc();
            prediction.clear();
        }
    }
}
