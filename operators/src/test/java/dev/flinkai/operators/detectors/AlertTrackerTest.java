package dev.flinkai.operators.detectors;

import dev.flinkai.schemas.Alert;
import dev.flinkai.schemas.AlertKind;
import dev.flinkai.schemas.AlertSeverity;
import dev.flinkai.schemas.AlertState;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

class AlertTrackerTest {

    private static final Finding SLOW = new Finding(AlertKind.THRESHOLD, "feature=chat,model=1,metric=latencyP99",
            "latencyP99", 1_500, 1_000, "slow");
    private static final Finding ERRORS = new Finding(AlertKind.ANOMALY, "feature=chat,model=1,metric=errorRate",
            "errorRate", 0.2, 0.05, "errors");

    private final ActiveAlerts alerts = new ActiveAlerts();

    /** Fires in windows 1 to 5, clear in 6: WARNING in 1, CRITICAL in 3, RESOLVED in 6, one episode id. */
    @Test
    void warnsThenEscalatesThenResolvesWithOneRecordEach() {
        AlertTracker tracker = new AlertTracker(3, 1);
        List<List<Alert>> byWindow = new ArrayList<>();
        for (int window = 1; window <= 5; window++) {
            byWindow.add(tracker.step(alerts, window, List.of(SLOW)));
        }
        byWindow.add(tracker.step(alerts, 6, List.of()));

        assertThat(byWindow.get(0)).singleElement().satisfies(a -> {
            assertThat(a.getState()).isEqualTo(AlertState.FIRING);
            assertThat(a.getSeverity()).isEqualTo(AlertSeverity.WARNING);
            assertThat(a.getKind()).isEqualTo(AlertKind.THRESHOLD);
            assertThat(a.getKey()).isEqualTo(SLOW.key());
            assertThat(a.getValue()).isEqualTo(1_500);
            assertThat(a.getThreshold()).isEqualTo(1_000);
            assertThat(a.getFirstSeenMillis()).isEqualTo(1);
            assertThat(a.getMessage()).isEqualTo("slow");
        });
        assertThat(byWindow.get(1)).isEmpty();
        assertThat(byWindow.get(2)).singleElement().satisfies(a -> {
            assertThat(a.getState()).isEqualTo(AlertState.FIRING);
            assertThat(a.getSeverity()).isEqualTo(AlertSeverity.CRITICAL);
            assertThat(a.getLastSeenMillis()).isEqualTo(3);
            assertThat(a.getMessage()).isEqualTo("slow (for 3 windows)");
        });
        assertThat(byWindow.get(3)).isEmpty();
        assertThat(byWindow.get(4)).isEmpty();
        assertThat(byWindow.get(5)).singleElement().satisfies(a -> {
            assertThat(a.getState()).isEqualTo(AlertState.RESOLVED);
            assertThat(a.getSeverity()).as("the highest reached").isEqualTo(AlertSeverity.CRITICAL);
            assertThat(a.getFirstSeenMillis()).isEqualTo(1);
            assertThat(a.getLastSeenMillis()).isEqualTo(5);
            assertThat(a.getMessage()).isEqualTo("clear for 1 window(s) up to 6; was: slow");
        });
        String episode = byWindow.get(0).get(0).getId();
        assertThat(List.of(byWindow.get(2).get(0).getId(), byWindow.get(5).get(0).getId())).containsOnly(episode);
        assertThat(alerts.isEmpty()).isTrue();

        List<Alert> again = tracker.step(alerts, 7, List.of(SLOW));
        assertThat(again).singleElement().satisfies(a -> {
            assertThat(a.getSeverity()).isEqualTo(AlertSeverity.WARNING);
            assertThat(a.getId()).as("a new episode").isNotEqualTo(episode);
        });
    }

    /**
     * Resolve after 2 clear windows: one clear window (3) neither resolves nor keeps the streak; CRITICAL needs 3
     * firing windows in a row again (4, 5, 6); RESOLVED after windows 7 and 8.
     */
    @Test
    void aShortGapNeitherResolvesNorCountsTowardsEscalation() {
        AlertTracker tracker = new AlertTracker(3, 2);
        List<Alert> all = new ArrayList<>();
        boolean[] firing = {true, true, false, true, true, true, false, false};
        List<Long> windowsWithRecords = new ArrayList<>();
        for (int i = 0; i < firing.length; i++) {
            List<Alert> records = tracker.step(alerts, i + 1, firing[i] ? List.of(SLOW) : List.of());
            if (!records.isEmpty()) {
                windowsWithRecords.add((long) i + 1);
            }
            all.addAll(records);
        }
        assertThat(all).extracting(Alert::getState, Alert::getSeverity).containsExactly(
                tuple(AlertState.FIRING, AlertSeverity.WARNING),
                tuple(AlertState.FIRING, AlertSeverity.CRITICAL),
                tuple(AlertState.RESOLVED, AlertSeverity.CRITICAL));
        assertThat(windowsWithRecords).containsExactly(1L, 6L, 8L);
        assertThat(all).extracting(Alert::getId).containsOnly(all.get(0).getId());
    }

    @Test
    void conditionsAreTrackedApartAndResolveAllEndsEveryOne() {
        AlertTracker tracker = new AlertTracker(2, 1);
        assertThat(tracker.step(alerts, 1, List.of(SLOW, ERRORS))).extracting(Alert::getKey)
                .containsExactly(SLOW.key(), ERRORS.key());
        List<Alert> second = tracker.step(alerts, 2, List.of(ERRORS));
        assertThat(second).extracting(Alert::getKey, Alert::getState, Alert::getSeverity).containsExactlyInAnyOrder(
                tuple(ERRORS.key(), AlertState.FIRING, AlertSeverity.CRITICAL),
                tuple(SLOW.key(), AlertState.RESOLVED, AlertSeverity.WARNING));
        List<Alert> gone = alerts.resolveAll("series stopped");
        assertThat(gone).singleElement().satisfies(a -> {
            assertThat(a.getKey()).isEqualTo(ERRORS.key());
            assertThat(a.getState()).isEqualTo(AlertState.RESOLVED);
            assertThat(a.getMessage()).isEqualTo("series stopped; was: errors");
        });
        assertThat(alerts.isEmpty()).isTrue();
    }

    /** The same key watched by two detectors is two conditions. */
    @Test
    void theSameKeyOfAnotherKindIsAnotherCondition() {
        Finding anomaly = new Finding(AlertKind.ANOMALY, SLOW.key(), SLOW.metric(), 1_500, 800, "unusual");
        assertThat(new AlertTracker(3, 1).step(alerts, 1, List.of(SLOW, anomaly))).hasSize(2)
                .extracting(Alert::getId).doesNotHaveDuplicates();
    }

    @Test
    void refusesAnEscalationThatSkipsTheWarning() {
        assertThatThrownBy(() -> new AlertTracker(1, 1)).isInstanceOf(IllegalArgumentException.class);
    }
}
