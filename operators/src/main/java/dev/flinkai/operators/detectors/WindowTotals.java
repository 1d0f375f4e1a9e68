package dev.flinkai.operators.detectors;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

import java.time.Duration;
import java.util.Map;

/**
 * The totals over every feature ({@link Observation#ALL}) of each window, summed from what the windows of every series
 * and of every dead-letter partition already counted: a few records per window, however many events, so the one key
 * all of them share is no bottleneck. The windows before it fire at the window's end plus the prediction wait, and
 * emit before that watermark passes on; a timer at the same time therefore sees all of them. Each window's sums are
 * removed when it is emitted.
 */
public class WindowTotals extends KeyedProcessFunction<String, WindowStats, WindowStats> {
    private static final long serialVersionUID = 1L;

    private final long waitMillis;
    /** Per window end: events (dead letters included) and dead letters so far. */
    private transient MapState<Long, long[]> sums;

    public WindowTotals(Duration predictionWait) {
        this.waitMillis = predictionWait.toMillis();
    }

    @Override
    public void open(OpenContext openContext) {
        sums = getRuntimeContext().getMapState(new MapStateDescriptor<>("ops-window-totals", Types.LONG,
                PrimitiveArrayTypeInfo.LONG_PRIMITIVE_ARRAY_TYPE_INFO));
    }

    @Override
    public void processElement(WindowStats partial, Context ctx, Collector<WindowStats> out) throws Exception {
        long end = partial.windowEndMillis();
        long[] sum = sums.get(end);
        if (sum == null) {
            sum = new long[2];
            ctx.timerService().registerEventTimeTimer(end - 1 + waitMillis);
        }
        sum[0] += partial.events();
        sum[1] += partial.deadLetters();
        sums.put(end, sum);
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<WindowStats> out) throws Exception {
        long end = timestamp + 1 - waitMillis;
        long[] sum = sums.get(end);
        if (sum != null) {
            out.collect(new WindowStats(Observation.ALL, Observation.ALL, end, sum[0], Double.NaN, Double.NaN,
                    Double.NaN, 0, 0, 0, 0, Map.of(), Double.NaN, Double.NaN, sum[1], Double.NaN));
            sums.remove(end);
        }
    }
}
