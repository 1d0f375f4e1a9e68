package dev.flinkai.operators.detectors;

import dev.flinkai.schemas.Alert;
import dev.flinkai.schemas.AlertKind;
import dev.flinkai.schemas.AlertSeverity;
import dev.flinkai.schemas.AlertState;

import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.IntFunction;

import static dev.flinkai.operators.detectors.Windows.MINUTE;
import static dev.flinkai.operators.detectors.Windows.window;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

class DetectorFunctionTest {

    private static final int CRITICAL_AFTER = 3;
    private static final int SPIKE_FROM = 30;
    private static final int SPIKE_UNTIL = 36; // exclusive: 6 slow windows
    private static final String P99_KEY = "feature=chat,model=1.0.0,metric=latencyP99";

    /** The platform's p99 target; error and fallback limits the noisy clean series stays within. */
    private static final DetectorSettings SETTINGS = DetectorSettings.builder()
            .limit(Metric.ERROR_RATE, 0.05).limit(Metric.FALLBACK_RATE, 0.05)
            .escalation(CRITICAL_AFTER, 1).build();

    /**
     * A clean series: p99 around 700 ms (σ 30), 0 to 3 failed tasks of 100, 0 to 10 fallbacks of 500, from a fixed
     * seed; from window {@code spikeFrom} to {@code spikeUntil} the p99 is 1,500 ms.
     */
    private static IntFunction<WindowStats> series(int spikeFrom, int spikeUntil) {
        Random random = new Random(42);
        List<WindowStats> windows = new ArrayList<>();
        for (int i = 0; i < 120; i++) {
            double p99 = i >= spikeFrom && i < spikeUntil ? 1_500 : 700 + 30 * random.nextGaussian();
            windows.add(window("1.0.0", i, p99, random.nextInt(4), random.nextInt(11)));
        }
        return windows::get;
    }

    private static KeyedOneInputStreamOperatorTestHarness<String, WindowStats, Alert> harness(DetectorSettings settings)
            throws Exception {
        return new KeyedOneInputStreamOperatorTestHarness<>(new KeyedProcessOperator<>(new DetectorFunction(settings)),
                WindowStats::feature, Types.STRING);
    }

    private static DetectorFunction function(KeyedOneInputStreamOperatorTestHarness<String, WindowStats, Alert> harness) {
        return (DetectorFunction) ((KeyedProcessOperator<?, ?, ?>) harness.getOperator()).getUserFunction();
    }

    /** Feeds windows [from, to) and returns the alerts they raised. */
    private static List<Alert> feed(KeyedOneInputStreamOperatorTestHarness<String, WindowStats, Alert> harness,
                                    IntFunction<WindowStats> series, int from, int to) throws Exception {
        harness.getOutput().clear();
        for (int i = from; i < to; i++) {
            WindowStats w = series.apply(i);
            harness.processElement(w, w.windowEndMillis() - 1);
        }
        return harness.extractOutputValues();
    }

    private static long end(int window) {
        return (window + 1) * MINUTE;
    }

    @Test
    void aCleanSeriesRaisesNothing() throws Exception {
        try (var harness = harness(SETTINGS)) {
            harness.open();
            assertThat(feed(harness, series(Integer.MAX_VALUE, 0), 0, 120)).isEmpty();
        }
    }

    /**
     * The spike is beyond the limit and far from the series' past: a threshold and an anomaly episode on the p99, each
     * WARNING in the spike's first window, CRITICAL in its third, RESOLVED in the first window after it.
     */
    @Test
    void aLatencySpikeWarnsEscalatesAndResolves() throws Exception {
        try (var harness = harness(SETTINGS)) {
            harness.open();
            List<Alert> alerts = feed(harness, series(SPIKE_FROM, SPIKE_UNTIL), 0, 60);

            assertThat(alerts).allSatisfy(a -> {
                assertThat(a.getKey()).isEqualTo(P99_KEY);
                assertThat(a.getMetric()).isEqualTo("latencyP99");
            });
            for (AlertKind kind : List.of(AlertKind.THRESHOLD, AlertKind.ANOMALY)) {
                List<Alert> episode = alerts.stream().filter(a -> a.getKind() == kind).toList();
                assertThat(episode).as(kind.name()).extracting(Alert::getState, Alert::getSeverity, Alert::getLastSeenMillis)
                        .containsExactly(
                                tuple(AlertState.FIRING, AlertSeverity.WARNING, end(SPIKE_FROM)),
                                tuple(AlertState.FIRING, AlertSeverity.CRITICAL, end(SPIKE_FROM + CRITICAL_AFTER - 1)),
                                tuple(AlertState.RESOLVED, AlertSeverity.CRITICAL, end(SPIKE_UNTIL - 1)));
                assertThat(episode).extracting(Alert::getId).containsOnly(episode.get(0).getId());
                assertThat(episode).extracting(Alert::getFirstSeenMillis).containsOnly(end(SPIKE_FROM));
                assertThat(episode.get(0).getValue()).isEqualTo(1_500);
                assertThat(episode.get(2).getMessage()).startsWith("clear for 1 window(s) up to " + end(SPIKE_UNTIL));
            }
            assertThat(alerts.stream().filter(a -> a.getKind() == AlertKind.THRESHOLD).findFirst().orElseThrow()
                    .getThreshold()).isEqualTo(1_000);
        }
    }

    /**
     * The feature stops reporting while its alert fires: when the watermark passes its last window by expireAfter
     * the alert resolves and the feature's state is gone; until then both stay.
     */
    @Test
    void aSeriesThatStopsHasItsAlertsResolvedAndItsStateDropped() throws Exception {
        Duration expireAfter = SETTINGS.expireAfter;
        try (var harness = harness(SETTINGS)) {
            harness.open();
            assertThat(feed(harness, series(3, 10), 0, 5)).extracting(Alert::getKind, Alert::getState)
                    .containsExactly(tuple(AlertKind.THRESHOLD, AlertState.FIRING));
            assertThat(harness.numKeyedStateEntries()).isEqualTo(1);

            harness.getOutput().clear();
            harness.processWatermark(end(4) + expireAfter.toMillis() - 1);
            assertThat(harness.extractOutputValues()).isEmpty();
            assertThat(harness.numKeyedStateEntries()).isEqualTo(1);

            harness.processWatermark(end(4) + expireAfter.toMillis());
            assertThat(harness.extractOutputValues()).singleElement().satisfies(a -> {
                assertThat(a.getState()).isEqualTo(AlertState.RESOLVED);
                assertThat(a.getKey()).isEqualTo(P99_KEY);
                assertThat(a.getMessage()).startsWith("chat reported no window since " + end(4));
            });
            assertThat(harness.numKeyedStateEntries()).isZero();
        }
    }

    /**
     * Snapshot in the spike's second window, restore into a new harness: the restored function continues the episode
     * (CRITICAL in the third window, no second WARNING, the same id) exactly as the uninterrupted one does, and its
     * gauge of open alerts counts the two restored ones until they resolve.
     */
    @ParameterizedTest(name = "RocksDB: {0}")
    @ValueSource(booleans = {false, true})
    void survivesSnapshotAndRestoreWithItsDetectorState(boolean rocksDb) throws Exception {
        IntFunction<WindowStats> series = series(SPIKE_FROM, SPIKE_UNTIL);
        OperatorSubtaskState snapshot;
        List<Alert> before;
        List<Alert> uninterrupted;
        try (var harness = harness(SETTINGS)) {
            if (rocksDb) {
                harness.setStateBackend(new EmbeddedRocksDBStateBackend());
            }
            harness.open();
            before = feed(harness, series, 0, SPIKE_FROM + 2);
            snapshot = harness.snapshot(1L, 1L);
            uninterrupted = feed(harness, series, SPIKE_FROM + 2, 60);
        }
        List<Alert> restored;
        try (var harness = harness(SETTINGS)) {
            if (rocksDb) {
                harness.setStateBackend(new EmbeddedRocksDBStateBackend());
            }
            harness.initializeState(snapshot);
            harness.open();
            assertThat(function(harness).openAlerts()).as("open after the restore").isEqualTo(2);
            restored = feed(harness, series, SPIKE_FROM + 2, SPIKE_UNTIL - 1);
            assertThat(function(harness).openAlerts()).as("open at the spike's end").isEqualTo(2);
            restored.addAll(feed(harness, series, SPIKE_UNTIL - 1, 60));
            assertThat(function(harness).openAlerts()).as("open once resolved").isZero();
        }
        assertThat(before).extracting(Alert::getSeverity).containsOnly(AlertSeverity.WARNING).hasSize(2);
        assertThat(restored).isEqualTo(uninterrupted);
        assertThat(restored).extracting(Alert::getState, Alert::getSeverity).containsExactly(
                tuple(AlertState.FIRING, AlertSeverity.CRITICAL), tuple(AlertState.FIRING, AlertSeverity.CRITICAL),
                tuple(AlertState.RESOLVED, AlertSeverity.CRITICAL), tuple(AlertState.RESOLVED, AlertSeverity.CRITICAL));
        assertThat(restored).extracting(Alert::getId).containsExactlyInAnyOrderElementsOf(
                List.of(before.get(0).getId(), before.get(1).getId(), before.get(0).getId(), before.get(1).getId()));
    }

    /**
     * Model 2.0.0 takes over from 1.0.0 and falls back on 9 % of predictions instead of 1 %: a regression alert naming
     * both versions, escalating like any other; 2.0.0 is also beyond the 5 % fallback limit.
     */
    @Test
    void aNewVersionWithMoreFallbacksRaisesARegressionNamingBothVersions() throws Exception {
        IntFunction<WindowStats> rollout = i -> i < 15 ? window("1.0.0", i, 700, 1, 5) : window("2.0.0", i, 700, 1, 45);
        try (var harness = harness(SETTINGS)) {
            harness.open();
            List<Alert> alerts = feed(harness, rollout, 0, 18);
            List<Alert> regression = alerts.stream().filter(a -> a.getKind() == AlertKind.REGRESSION).toList();
            assertThat(regression).extracting(Alert::getSeverity, Alert::getLastSeenMillis).containsExactly(
                    tuple(AlertSeverity.WARNING, end(15)), tuple(AlertSeverity.CRITICAL, end(17)));
            assertThat(regression.get(0).getKey()).isEqualTo("feature=chat,model=2.0.0,previous=1.0.0,metric=fallbackRate");
            assertThat(regression.get(0).getValue()).isEqualTo(0.09);
            assertThat(regression.get(0).getThreshold()).isEqualTo(0.01);
            assertThat(regression.get(0).getMessage()).isEqualTo(
                    "model 2.0.0 against 1.0.0: fallback rate 9.00 % against 1.00 %");
            assertThat(alerts).filteredOn(a -> a.getKind() == AlertKind.THRESHOLD).extracting(Alert::getKey)
                    .containsOnly("feature=chat,model=2.0.0,metric=fallbackRate");
        }
    }

    /** A window fired again by allowed lateness replaces its numbers but raises nothing a second time. */
    @Test
    void aWindowFiredAgainIsNotJudgedAgain() throws Exception {
        IntFunction<WindowStats> series = series(3, 10);
        try (var harness = harness(SETTINGS)) {
            harness.open();
            feed(harness, series, 0, 4);
            WindowStats again = window("1.0.0", 3, 2_000, 0, 0);
            harness.getOutput().clear();
            harness.processElement(again, again.windowEndMillis() - 1);
            assertThat(harness.extractOutputValues()).isEmpty();
        }
    }

    /**
     * Model 1.0.0 is slow when 2.0.0 replaces it: its alert resolves once it has reported nothing for staleAfter (5
     * windows), not before.
     */
    @Test
    void aReplacedVersionsAlertsResolveWhenItGoesStale() throws Exception {
        IntFunction<WindowStats> rollout = i -> i < 5 ? window("1.0.0", i, i < 3 ? 700 : 1_500, 1, 5)
                : window("2.0.0", i, 700, 1, 5);
        try (var harness = harness(SETTINGS)) {
            harness.open();
            assertThat(feed(harness, rollout, 0, 5)).extracting(Alert::getState, Alert::getSeverity)
                    .containsExactly(tuple(AlertState.FIRING, AlertSeverity.WARNING));
            assertThat(feed(harness, rollout, 5, 9)).isEmpty();
            assertThat(feed(harness, rollout, 9, 12)).singleElement().satisfies(a -> {
                assertThat(a.getKey()).isEqualTo(P99_KEY);
                assertThat(a.getState()).isEqualTo(AlertState.RESOLVED);
                assertThat(a.getLastSeenMillis()).isEqualTo(end(4));
                assertThat(a.getMessage()).startsWith("model 1.0.0 reported no window since " + end(4));
            });
        }
    }

    /**
     * 2.0.0 is slow (beyond the limit and slower than 1.0.0) and replaced by 3.0.0; when 4.0.0 comes, 2.0.0 is two
     * versions old: its state goes and its alerts resolve at once.
     */
    @Test
    void aVersionTwoVersionsOldIsDroppedWithItsAlerts() throws Exception {
        IntFunction<WindowStats> rollouts = i -> i < 5 ? window("1.0.0", i, 700, 1, 5)
                : i < 7 ? window("2.0.0", i, 1_500, 1, 5) : i < 9 ? window("3.0.0", i, 700, 1, 5)
                : window("4.0.0", i, 700, 1, 5);
        try (var harness = harness(SETTINGS)) {
            harness.open();
            assertThat(feed(harness, rollouts, 0, 7)).extracting(Alert::getKind, Alert::getKey).containsExactlyInAnyOrder(
                    tuple(AlertKind.THRESHOLD, "feature=chat,model=2.0.0,metric=latencyP99"),
                    tuple(AlertKind.REGRESSION, "feature=chat,model=2.0.0,previous=1.0.0,metric=latencyP99"));
            assertThat(feed(harness, rollouts, 7, 9)).as("3.0.0 replaced 1.0.0, 2.0.0 not stale yet").isEmpty();
            List<Alert> dropped = feed(harness, rollouts, 9, 10);
            assertThat(dropped).hasSize(2).allSatisfy(a -> {
                assertThat(a.getState()).isEqualTo(AlertState.RESOLVED);
                assertThat(a.getKey()).contains("model=2.0.0");
                assertThat(a.getMessage()).startsWith("model 2.0.0 is two versions old on chat");
            });
        }
    }

    /**
     * Windows of unscored events (no prediction came) beside 1.0.0's take no model version's place: when 2.0.0 comes
     * with more fallbacks, the regression compares it with 1.0.0, not with the unscored events.
     */
    @Test
    void unscoredEventsAreNoModelVersion() throws Exception {
        try (var harness = harness(SETTINGS)) {
            harness.open();
            List<Alert> alerts = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                WindowStats model = i < 15 ? window("1.0.0", i, 700, 1, 5) : window("2.0.0", i, 700, 1, 45);
                WindowStats unscored = window(Observation.UNSCORED, i, 700, 1, 0);
                alerts.addAll(feed(harness, j -> j == 0 ? model : unscored, 0, 2));
            }
            assertThat(alerts).filteredOn(a -> a.getKind() == AlertKind.REGRESSION).extracting(Alert::getKey)
                    .containsExactly("feature=chat,model=2.0.0,previous=1.0.0,metric=fallbackRate");
        }
    }
}
