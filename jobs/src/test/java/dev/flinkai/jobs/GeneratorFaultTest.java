package dev.flinkai.jobs;

import dev.flinkai.operators.simulation.UserBehaviourSimulator;
import dev.flinkai.schemas.EventType;
import dev.flinkai.schemas.UserEvent;

import org.apache.flink.configuration.Configuration;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The generator's fault switch: what a fault changes in the traffic, only inside its window, and its settings. */
class GeneratorFaultTest {

    private static final long SUBMITTED = 1_700_000_000_000L;
    private static final int EVENTS = 6_000;
    /** One event per 100 ms: 10 minutes of traffic; the faults below run from minute 3 to minute 6. */
    private static final long STEP_MILLIS = 100;
    private static final long FAULT_START = SUBMITTED + 180_000;
    private static final long FAULT_END = SUBMITTED + 360_000;

    /** The fault of a generator started with {@code args} over a window on search from minute 3 to minute 6. */
    private static GeneratorFault fault(String... args) {
        Map<String, String> given = new LinkedHashMap<>(Map.of("--kafka.bootstrap-servers", "unused:9092",
                "--fault.feature", "search", "--fault.start", "3 min", "--fault.duration", "3 min"));
        for (int i = 0; i < args.length; i += 2) {
            given.put(args[i], args[i + 1]);
        }
        String[] all = given.entrySet().stream().flatMap(e -> Stream.of(e.getKey(), e.getValue())).toArray(String[]::new);
        return GeneratorFault.from(EventGeneratorJob.settings(all, new Configuration(), Map.of()), SUBMITTED);
    }

    /** The traffic of a fresh simulator with {@code fault} played in, one event per STEP_MILLIS from SUBMITTED. */
    private static List<UserEvent> traffic(GeneratorFault fault) {
        UserBehaviourSimulator simulator = new UserBehaviourSimulator(3, 500, 0.8, 0, 1);
        List<UserEvent> events = new ArrayList<>();
        for (int i = 0; i < EVENTS; i++) {
            long time = SUBMITTED + i * STEP_MILLIS;
            String id = "ev-" + i;
            events.add(fault.next(() -> simulator.next(id, time)));
        }
        return events;
    }

    private static boolean inWindowOnSearch(UserEvent e) {
        return e.getEventTimeMillis() >= FAULT_START && e.getEventTimeMillis() < FAULT_END
                && "search".equals(e.getFeature());
    }

    @Test
    void aLatencySpikeMultipliesTheFeaturesLatenciesInItsWindowOnly() {
        List<UserEvent> plain = traffic(fault());
        List<UserEvent> spiked = traffic(fault("--fault", "latency-spike", "--fault.latency-factor", "8"));

        int hit = 0;
        for (int i = 0; i < EVENTS; i++) {
            UserEvent before = plain.get(i);
            UserEvent after = spiked.get(i);
            if (inWindowOnSearch(before)) {
                hit++;
                assertThat(after.getLatencyMillis()).isEqualTo(before.getLatencyMillis() * 8);
                after.setLatencyMillis(before.getLatencyMillis());
            }
            assertThat(after).as("event %d apart from its latency", i).isEqualTo(before);
        }
        assertThat(hit).as("search events in the window").isGreaterThan(100);
    }

    @Test
    void anErrorBurstFailsTheFeaturesTasksInItsWindowOnly() {
        List<UserEvent> plain = traffic(fault());
        List<UserEvent> burst = traffic(fault("--fault", "error-burst"));

        int failedByTheFault = 0;
        for (int i = 0; i < EVENTS; i++) {
            UserEvent before = plain.get(i);
            UserEvent after = burst.get(i);
            if (inWindowOnSearch(before) && before.getEventType() == EventType.TASK_OUTCOME) {
                assertThat(after.getSuccess()).as("task outcome %d", i).isFalse();
                if (before.getSuccess()) {
                    failedByTheFault++;
                }
                after.setSuccess(before.getSuccess());
            }
            assertThat(after).as("event %d apart from its outcome", i).isEqualTo(before);
        }
        assertThat(failedByTheFault).as("successful search tasks the fault failed").isGreaterThan(10);
    }

    @Test
    void aTrafficDropStopsTheFeaturesEventsInItsWindowAndKeepsTheRate() {
        List<UserEvent> dropped = traffic(fault("--fault", "traffic-drop"));

        assertThat(dropped).hasSize(EVENTS);
        assertThat(dropped).noneMatch(GeneratorFaultTest::inWindowOnSearch);
        assertThat(dropped).filteredOn(e -> e.getEventTimeMillis() >= FAULT_START && e.getEventTimeMillis() < FAULT_END)
                .as("other features' events in the window").hasSize((int) ((FAULT_END - FAULT_START) / STEP_MILLIS));
        assertThat(dropped).filteredOn(e -> e.getEventTimeMillis() >= FAULT_END && "search".equals(e.getFeature()))
                .as("search events after the window").isNotEmpty();
    }

    @Test
    void badFaultSettingsFailAtStartNamingTheKey() {
        assertThatThrownBy(() -> fault("--fault", "latency-spikes"))
                .hasMessageContaining("--fault 'latency-spikes'").hasMessageContaining("traffic-drop");
        assertThatThrownBy(() -> fault("--fault", "error-burst", "--fault.feature", "video"))
                .hasMessageContaining("--fault.feature 'video'").hasMessageContaining("chat");
        assertThatThrownBy(() -> fault("--fault", "latency-spike", "--fault.duration", "0 s"))
                .hasMessageContaining("--fault.duration");
        assertThatThrownBy(() -> fault("--fault", "latency-spike", "--fault.latency-factor", "-2"))
                .hasMessageContaining("--fault.latency-factor");
    }
}
