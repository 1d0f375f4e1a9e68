package dev.flinkai.operators.context;

import dev.flinkai.operators.features.FeatureExtractor;
import dev.flinkai.operators.inference.ScoringRequest;
import dev.flinkai.operators.ingest.ReceivedRecord;
import dev.flinkai.schemas.UserEvent;

import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.state.KeyedStateBackend;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

class UserContextFunctionTest {

    private static final Duration TTL = Duration.ofHours(1);

    private static KeyedOneInputStreamOperatorTestHarness<String, ReceivedRecord, ScoringRequest> harness(boolean rocksDb)
            throws Exception {
        KeyedOneInputStreamOperatorTestHarness<String, ReceivedRecord, ScoringRequest> harness =
                new KeyedOneInputStreamOperatorTestHarness<>(
                        new KeyedProcessOperator<>(new UserContextFunction(TTL)), r -> r.event.getUserId(), Types.STRING);
        if (rocksDb) {
            harness.setStateBackend(new EmbeddedRocksDBStateBackend());
        }
        return harness;
    }

    private static UserContext stateOf(KeyedOneInputStreamOperatorTestHarness<String, ReceivedRecord, ScoringRequest> harness,
                                       String user) throws Exception {
        KeyedStateBackend<String> backend = harness.getOperator().getKeyedStateBackend();
        backend.setCurrentKey(user);
        ValueState<UserContext> state = backend.getPartitionedState(
                VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, UserContextFunction.stateDescriptor(TTL));
        return state.value();
    }

    @Test
    void emitsTheFeaturesOfEveryEventAndKeepsABoundedContextPerUser() throws Exception {
        List<UserEvent> events = TestEvents.simulated(5, 20, 2_000);
        try (var harness = harness(false)) {
            harness.open();
            for (UserEvent event : events) {
                harness.processElement(TestEvents.received(event), event.getEventTimeMillis());
            }
            List<ScoringRequest> out = harness.extractOutputValues();
            assertThat(out).extracting(r -> r.eventId).containsExactlyElementsOf(events.stream().map(UserEvent::getEventId).toList());
            assertThat(out).allSatisfy(r -> assertThat(r.features).hasSize(FeatureExtractor.FEATURE_COUNT));
            assertThat(out.get(0).ingestTimeMillis).isEqualTo(events.get(0).getEventTimeMillis() + 5);

            // The features equal a straight replay of each user's events through a fresh context.
            var byUser = events.stream().collect(Collectors.groupingBy(UserEvent::getUserId));
            assertThat(harness.numKeyedStateEntries()).isEqualTo(byUser.size());
            for (var entry : byUser.entrySet()) {
                UserContext replay = new UserContext();
                entry.getValue().forEach(replay::add);
                UserContext stored = stateOf(harness, entry.getKey());
                assertThat(stored).isEqualTo(replay);
                assertThat(stored.recentSize()).isLessThanOrEqualTo(UserContext.RECENT_CAPACITY);
                assertThat(stored.totalEvents()).isEqualTo(entry.getValue().size());
            }
        }
    }

    @Test
    void contextOfAnInactiveUserExpiresAndIsCleanedUp() throws Exception {
        List<UserEvent> events = TestEvents.simulated(6, 2, 40);
        UserEvent first = events.get(0);
        try (var harness = harness(false)) {
            harness.open();
            harness.setStateTtlProcessingTime(0);
            for (int i = 0; i < 10; i++) {
                harness.processElement(TestEvents.received(events.get(i)), 0);
            }
            assertThat(harness.numKeyedStateEntries()).isEqualTo(2);

            harness.setStateTtlProcessingTime(TTL.toMillis() + 1);
            assertThat(stateOf(harness, first.getUserId())).as("expired context is invisible").isNull();

            // Incremental cleanup runs as state is touched: after more traffic the expired entries are gone.
            UserEvent late = events.get(10);
            for (int i = 0; i < 5; i++) {
                harness.processElement(TestEvents.received(late), 0);
            }
            assertThat(harness.numKeyedStateEntries()).isEqualTo(1);
            // The returning user starts from an empty context: their first event again.
            assertThat(stateOf(harness, late.getUserId()).totalEvents()).isEqualTo(5);
        }
    }

    @Test
    void restoreFromSnapshotInRocksDbGivesIdenticalOutput() throws Exception {
        List<UserEvent> events = TestEvents.simulated(7, 50, 3_000);
        List<UserEvent> before = events.subList(0, 1_500);
        List<UserEvent> after = events.subList(1_500, events.size());

        OperatorSubtaskState snapshot;
        List<ScoringRequest> uninterrupted;
        try (var harness = harness(true)) {
            harness.open();
            for (UserEvent e : before) {
                harness.processElement(TestEvents.received(e), e.getEventTimeMillis());
            }
            snapshot = harness.snapshot(1L, 1L);
            harness.getOutput().clear();
            for (UserEvent e : after) {
                harness.processElement(TestEvents.received(e), e.getEventTimeMillis());
            }
            uninterrupted = harness.extractOutputValues();
        }

        List<ScoringRequest> restored;
        try (var harness = harness(true)) {
            harness.initializeState(snapshot);
            harness.open();
            for (UserEvent e : after) {
                harness.processElement(TestEvents.received(e), e.getEventTimeMillis());
            }
            restored = harness.extractOutputValues();
        }

        assertThat(restored).hasSameSizeAs(uninterrupted);
        for (int i = 0; i < restored.size(); i++) {
            assertThat(restored.get(i).eventId).isEqualTo(uninterrupted.get(i).eventId);
            assertThat(restored.get(i).features).containsExactly(uninterrupted.get(i).features);
        }
    }
}
