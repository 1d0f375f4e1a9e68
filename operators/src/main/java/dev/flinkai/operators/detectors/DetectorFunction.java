package dev.flinkai.operators.detectors;

import dev.flinkai.schemas.Alert;
import dev.flinkai.schemas.AlertState;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.metrics.Counter;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

import java.util.Iterator;
import java.util.List;

/**
 * Keyed by assistant feature: runs the detectors on each window's statistics of the feature (one record per model
 * version and window) and sends the alerts the {@link AlertTracker} makes of their findings.
 *
 * <p>The state of a feature ({@link SeriesState}: the last windows and active alerts of its current and previous
 * model version) lives in one value with a hand-written serializer, so a restored job continues its episodes and
 * compares with the same history. Nothing is kept forever: a version that reports no window for {@code staleAfter}
 * has its alerts resolved (a replaced model must not leave alerts firing that no window will ever clear), and a
 * feature that reports none for {@code expireAfter} (event time) has its alerts resolved and its state dropped by a
 * timer. A timer rather than state TTL because the state's end must send the RESOLVED records too.
 *
 * <p>A window that fires again (allowed lateness) replaces its numbers in the history but is not judged again: its
 * alerts were already decided.
 *
 * <p>The gauge {@code opsAlertsOpen} counts the alerts FIRING now, so Prometheus can alert on them: summed over the
 * subtasks it is exact, also after a restore or a rescale (the counts are kept in union operator state and handed to
 * subtask 0, while the alerts themselves move with their keys).
 */
public class DetectorFunction extends KeyedProcessFunction<String, WindowStats, Alert>
        implements CheckpointedFunction {
    private static final long serialVersionUID = 1L;

    public static final String STATE_NAME = "ops-detector-series";

    private final DetectorSettings settings;
    private final SeriesEvaluator evaluator;
    private final AlertTracker tracker;

    private transient ValueState<SeriesState> state;
    private transient Counter alertsSent;
    private transient Counter windowsUpdated;
    private transient ListState<Long> openAlertsState;
    private transient long openAlerts;

    public DetectorFunction(DetectorSettings settings) {
        this.settings = settings;
        this.evaluator = new SeriesEvaluator(settings);
        this.tracker = new AlertTracker(settings.criticalAfter, settings.resolveAfter);
    }

    public static ValueStateDescriptor<SeriesState> stateDescriptor() {
        return new ValueStateDescriptor<>(STATE_NAME, SeriesStateSerializer.INSTANCE);
    }

    @Override
    public void open(OpenContext openContext) {
        state = getRuntimeContext().getState(stateDescriptor());
        alertsSent = getRuntimeContext().getMetricGroup().counter("opsAlertsSent");
        windowsUpdated = getRuntimeContext().getMetricGroup().counter("opsWindowsUpdatedLate");
        getRuntimeContext().getMetricGroup().gauge("opsAlertsOpen", () -> openAlerts);
    }

    @Override
    public void initializeState(FunctionInitializationContext context) throws Exception {
        openAlertsState = context.getOperatorStateStore()
                .getUnionListState(new ListStateDescriptor<>("ops-open-alerts", Types.LONG));
        if (context.isRestored() && getRuntimeContext().getTaskInfo().getIndexOfThisSubtask() == 0) {
            for (Long open : openAlertsState.get()) {
                openAlerts += open;
            }
        }
    }

    @Override
    public void snapshotState(FunctionSnapshotContext context) throws Exception {
        openAlertsState.update(List.of(openAlerts));
    }

    /** What this subtask's {@code opsAlertsOpen} gauge shows. */
    long openAlerts() {
        return openAlerts;
    }

    @Override
    public void processElement(WindowStats window, Context ctx, Collector<Alert> out) throws Exception {
        SeriesState feature = state.value();
        if (feature == null) {
            feature = new SeriesState();
        }
        long previousExpiry = expiryOf(feature);
        long windowEnd = window.windowEndMillis();
        SeriesState.VersionSeries series = feature.versions.get(window.modelVersion());
        if (series == null) {
            List<SeriesState.VersionSeries> models = feature.models();
            if (models.size() == 2 && !window.modelVersion().equals(Observation.UNSCORED)) {
                SeriesState.VersionSeries oldest = models.get(0);
                feature.versions.remove(oldest.version);
                send(oldest.alerts.resolveAll("model " + oldest.version + " is two versions old on "
                        + window.feature()), out);
            }
            series = new SeriesState.VersionSeries(window.modelVersion());
            feature.versions.put(series.version, series);
        } else if (windowEnd <= series.lastWindowEndMillis()) {
            series.replace(window);
            windowsUpdated.inc();
            state.update(feature);
            return;
        }

        SeriesState.VersionSeries previous = feature.previousOf(series);
        List<Finding> findings = evaluator.evaluate(series.windows, window,
                previous == null ? null : previous.version, previous == null ? List.of() : previous.windows);
        series.add(window, settings.historyWindows);
        send(tracker.step(series.alerts, windowEnd, findings), out);
        for (Iterator<SeriesState.VersionSeries> it = feature.versions.values().iterator(); it.hasNext(); ) {
            SeriesState.VersionSeries other = it.next();
            if (other != series && !other.alerts.isEmpty()
                    && other.lastWindowEndMillis() <= windowEnd - settings.staleAfter.toMillis()) {
                send(other.alerts.resolveAll("model " + other.version + " reported no window since "
                        + other.lastWindowEndMillis()), out);
            }
        }

        feature.lastWindowEndMillis = Math.max(feature.lastWindowEndMillis, windowEnd);
        long expiry = expiryOf(feature);
        if (expiry != previousExpiry) {
            if (previousExpiry != Long.MIN_VALUE) {
                ctx.timerService().deleteEventTimeTimer(previousExpiry);
            }
            ctx.timerService().registerEventTimeTimer(expiry);
        }
        state.update(feature);
    }

    /** The feature reported no window for {@code expireAfter}: its alerts resolve and its state goes. */
    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<Alert> out) throws Exception {
        SeriesState feature = state.value();
        if (feature == null || timestamp != expiryOf(feature)) {
            return;
        }
        for (SeriesState.VersionSeries series : feature.versions.values()) {
            send(series.alerts.resolveAll(ctx.getCurrentKey() + " reported no window since "
                    + feature.lastWindowEndMillis), out);
        }
        state.clear();
    }

    private long expiryOf(SeriesState feature) {
        return feature.lastWindowEndMillis == Long.MIN_VALUE
                ? Long.MIN_VALUE : feature.lastWindowEndMillis + settings.expireAfter.toMillis();
    }

    private void send(List<Alert> alerts, Collector<Alert> out) {
        for (Alert alert : alerts) {
            out.collect(alert);
            alertsSent.inc();
            if (alert.getState() == AlertState.RESOLVED) {
                openAlerts--;
            } else if (alert.getFirstSeenMillis() == alert.getLastSeenMillis()) {
                openAlerts++; // an episode's first record
            }
        }
    }
}
