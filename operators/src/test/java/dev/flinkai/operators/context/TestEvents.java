package dev.flinkai.operators.context;

import dev.flinkai.operators.ingest.ReceivedRecord;
import dev.flinkai.operators.simulation.UserBehaviourSimulator;
import dev.flinkai.schemas.UserEvent;

import java.util.ArrayList;
import java.util.List;

/** Realistic events for tests, from the project's own user simulator. */
final class TestEvents {

    private TestEvents() {}

    static List<UserEvent> simulated(long seed, int users, int count) {
        UserBehaviourSimulator simulator = new UserBehaviourSimulator(seed, users, 0.8, 0, 1);
        List<UserEvent> events = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            events.add(simulator.next("ev-" + i, 1_700_000_000_000L + i * 100L));
        }
        return events;
    }

    static ReceivedRecord received(UserEvent event) {
        return ReceivedRecord.valid(event, event.getEventTimeMillis() + 5);
    }
}
