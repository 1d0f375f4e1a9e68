package dev.flinkai.operators.simulation;

import dev.flinkai.operators.ingest.UserEventValidator;
import dev.flinkai.schemas.EventType;
import dev.flinkai.schemas.UserEvent;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class UserBehaviourSimulatorTest {

    private static List<UserEvent> run(long seed, int users, int partition, int partitions, int count) {
        UserBehaviourSimulator simulator = new UserBehaviourSimulator(seed, users, 0.8, partition, partitions);
        return IntStream.range(0, count).mapToObj(i -> simulator.next("ev-" + i, 1_700_000_000_000L + i)).toList();
    }

    @Test
    void sameSeedSameEventsAndEveryEventIsValid() {
        assertThat(run(1, 100, 0, 1, 500)).isEqualTo(run(1, 100, 0, 1, 500));
        assertThat(run(1, 100, 0, 1, 500)).allSatisfy(e -> assertThat(UserEventValidator.problem(e)).isNull());
    }

    @Test
    void parallelGeneratorsOwnDisjointUsers() {
        Set<String> first = new HashSet<>();
        run(1, 1_000, 0, 3, 5_000).forEach(e -> first.add(e.getUserId()));
        Set<String> second = new HashSet<>();
        run(1, 1_000, 1, 3, 5_000).forEach(e -> second.add(e.getUserId()));
        assertThat(first).isNotEmpty().doesNotContainAnyElementsOf(second);
    }

    @Test
    void popularityIsSkewedAndPersonasBehaveDifferently() {
        List<UserEvent> events = run(2, 10_000, 0, 1, 200_000);
        Map<String, Integer> perUser = new HashMap<>();
        events.forEach(e -> perUser.merge(e.getUserId(), 1, Integer::sum));
        int top = perUser.values().stream().max(Integer::compare).orElseThrow();
        assertThat(top).as("busiest user vs. the uniform share").isGreaterThan(20 * events.size() / 10_000);

        // The hidden persona shows in behaviour: strugglers fail far more tasks than power users.
        Map<UserBehaviourSimulator.Persona, int[]> outcomes = new HashMap<>();
        for (UserEvent e : events) {
            if (e.getEventType() == EventType.TASK_OUTCOME) {
                int[] counts = outcomes.computeIfAbsent(UserBehaviourSimulator.personaOf(e.getUserId()), p -> new int[2]);
                counts[e.getSuccess() ? 0 : 1]++;
            }
        }
        double strugglerFailures = failureRate(outcomes.get(UserBehaviourSimulator.Persona.STRUGGLER));
        double powerFailures = failureRate(outcomes.get(UserBehaviourSimulator.Persona.POWER_USER));
        assertThat(strugglerFailures).isGreaterThan(powerFailures + 0.4);
    }

    private static double failureRate(int[] counts) {
        return (double) counts[1] / (counts[0] + counts[1]);
    }

    /** The simulator's own random stream is the JDK's SplittableRandom's, so the events (and training data) are too. */
    @Test
    void itsRandomNumbersAreSplittableRandoms() {
        int[] bounds = {2, 3, 4, 7, 200, 400, 600, 1200, 1 << 20, Integer.MAX_VALUE};
        for (long seed : new long[] {0, 1, 1_000_003L, -42, Long.MAX_VALUE}) {
            SplittableRandom jdk = new SplittableRandom(seed);
            UserBehaviourSimulator.SplitMix64 own = new UserBehaviourSimulator.SplitMix64(seed);
            for (int i = 0; i < 100_000; i++) {
                switch (i % 4) {
                    case 0 -> assertThat(own.nextDouble()).isEqualTo(jdk.nextDouble());
                    case 1 -> assertThat(own.nextLong()).isEqualTo(jdk.nextLong());
                    case 2 -> assertThat(own.nextInt()).isEqualTo(jdk.nextInt());
                    default -> {
                        int bound = bounds[(i / 4) % bounds.length];
                        assertThat(own.nextInt(bound)).as("nextInt(%d)", bound).isEqualTo(jdk.nextInt(bound));
                    }
                }
            }
        }
    }

    /** What a checkpointed generator relies on: a simulator restored from a snapshot goes on exactly as the first. */
    @Test
    void aRestoredSimulatorGoesOnAsTheOneItsSnapshotWasTakenFrom() {
        List<UserBehaviourSimulator> first = List.of(new UserBehaviourSimulator(5, 1_000, 0.8, 0, 2),
                new UserBehaviourSimulator(5, 1_000, 0.8, 1, 2));
        for (int i = 0; i < 2_000; i++) {
            first.get(i % 2).next("ev-" + i, 1_700_000_000_000L + i);
        }
        List<byte[]> states = first.stream().map(UserBehaviourSimulator::snapshot).toList();
        UserBehaviourSimulator restored = UserBehaviourSimulator.restore(states, 5, 1_000, 0.8, 1, 2);
        for (int i = 2_000; i < 4_000; i++) {
            assertThat(restored.next("ev-" + i, 1_700_000_000_000L + i))
                    .isEqualTo(first.get(1).next("ev-" + i, 1_700_000_000_000L + i));
        }
        assertThatThrownBy(() -> UserBehaviourSimulator.restore(states, 5, 2_000, 0.8, 1, 2))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a share of 2000 users");
    }

    /**
     * Restored at another parallelism, every user goes on from their last session: a session id seen before comes
     * again only as its user's last one, never for a new session.
     */
    @Test
    void restoredAtAnotherParallelismEveryUserGoesOnFromTheirLastSession() {
        List<UserBehaviourSimulator> before = List.of(new UserBehaviourSimulator(9, 300, 0.8, 0, 3),
                new UserBehaviourSimulator(9, 300, 0.8, 1, 3), new UserBehaviourSimulator(9, 300, 0.8, 2, 3));
        Map<String, String> lastSession = new HashMap<>();
        Set<String> sessions = new HashSet<>();
        for (int i = 0; i < 6_000; i++) {
            UserEvent e = before.get(i % 3).next("ev-" + i, 1_700_000_000_000L + i);
            lastSession.put(e.getUserId(), e.getSessionId());
            sessions.add(e.getSessionId());
        }
        List<byte[]> states = before.stream().map(UserBehaviourSimulator::snapshot).toList();
        List<UserBehaviourSimulator> after = List.of(UserBehaviourSimulator.restore(states, 9, 300, 0.8, 0, 2),
                UserBehaviourSimulator.restore(states, 9, 300, 0.8, 1, 2));
        List<String> reused = new ArrayList<>();
        Set<String> usersAfter = new HashSet<>();
        for (int i = 6_000; i < 10_000; i++) {
            UserEvent e = after.get(i % 2).next("ev-" + i, 1_700_000_000_000L + i);
            usersAfter.add(e.getUserId());
            if (sessions.contains(e.getSessionId()) && !e.getSessionId().equals(lastSession.get(e.getUserId()))) {
                reused.add(e.getSessionId());
            }
            lastSession.put(e.getUserId(), e.getSessionId());
            sessions.add(e.getSessionId());
        }
        assertThat(usersAfter).as("users of the old partitions met again").hasSizeGreaterThan(100);
        assertThat(reused).as("session ids used again for another session").isEmpty();
    }
}
