package dev.flinkai.operators.context;

import dev.flinkai.operators.features.FeatureExtractor;
import dev.flinkai.operators.features.ScoringRequest;
import dev.flinkai.operators.ingest.ReceivedRecord;
import dev.flinkai.schemas.ModelUpdate;
import dev.flinkai.schemas.Tier;
import dev.flinkai.schemas.UserEvent;
import dev.flinkai.schemas.UserProfile;

import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.state.KeyedStateBackend;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.KeyedTwoInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

class UserContextOperatorTest {

    private static final Duration TTL = Duration.ofHours(1);

    /** One clock for the state TTL and the operator's cache, set by {@link #setTime}. */
    private long ttlClockMillis;

    private KeyedOneInputStreamOperatorTestHarness<String, ReceivedRecord, ScoringRequest> harness(boolean rocksDb, int cachedUsers)
            throws Exception {
        UserContextOperator operator = new UserContextOperator(TTL, cachedUsers) {
            @Override
            protected long currentTimeMillis() {
                return ttlClockMillis;
            }
        };
        KeyedOneInputStreamOperatorTestHarness<String, ReceivedRecord, ScoringRequest> harness =
                new KeyedOneInputStreamOperatorTestHarness<>(operator, ReceivedRecord::userId, Types.STRING);
        if (rocksDb) {
            harness.setStateBackend(new EmbeddedRocksDBStateBackend());
        }
        return harness;
    }

    private void setTime(KeyedOneInputStreamOperatorTestHarness<?, ?, ?> harness, long millis) {
        ttlClockMillis = millis;
        harness.setStateTtlProcessingTime(millis);
    }

    private static List<ScoringRequest> run(KeyedOneInputStreamOperatorTestHarness<String, ReceivedRecord, ScoringRequest> harness,
                                            List<UserEvent> events) throws Exception {
        for (UserEvent event : events) {
            harness.processElement(TestEvents.received(event), event.getEventTimeMillis());
        }
        return harness.extractOutputValues();
    }

    private static UserContext stateOf(KeyedOneInputStreamOperatorTestHarness<String, ReceivedRecord, ScoringRequest> harness,
                                       String user) throws Exception {
        KeyedStateBackend<String> backend = harness.getOperator().getKeyedStateBackend();
        backend.setCurrentKey(user);
        ValueState<UserContext> state = backend.getPartitionedState(
                VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, UserContextOperator.stateDescriptor(TTL));
        return state.value();
    }

    /** Users with a context in the keyed state (numKeyedStateEntries() only counts on the heap backend). */
    private static long usersInState(KeyedOneInputStreamOperatorTestHarness<String, ReceivedRecord, ScoringRequest> harness) {
        try (var users = harness.getOperator().getKeyedStateBackend()
                .getKeys(UserContextOperator.STATE_NAME, VoidNamespace.INSTANCE)) {
            return users.count();
        }
    }

    /**
     * 3 of 20 users cached: most events evict one, which writes it back and reuses its context object; 1,000: every
     * returning user is a hit. On the heap backend the operator turns the cache off, as the state holds the objects.
     */
    @ParameterizedTest(name = "RocksDB: {0}, cached users: {1}")
    @CsvSource({"false, 0", "false, 3", "true, 0", "true, 3", "true, 1000"})
    void emitsTheFeaturesOfEveryEventAndTheStateHoldsEveryUpdateAtTheBarrier(boolean rocksDb, int cachedUsers)
            throws Exception {
        List<UserEvent> events = TestEvents.simulated(5, 20, 2_000);
        Map<String, List<UserEvent>> byUser = events.stream().collect(Collectors.groupingBy(UserEvent::getUserId));
        try (var harness = harness(rocksDb, cachedUsers)) {
            harness.open();
            List<ScoringRequest> out = run(harness, events);
            assertThat(out).extracting(r -> r.eventId).containsExactlyElementsOf(events.stream().map(UserEvent::getEventId).toList());
            assertThat(out).allSatisfy(r -> assertThat(r.features).hasSize(FeatureExtractor.FEATURE_COUNT));
            assertThat(out.get(0).ingestTimeMillis).isEqualTo(events.get(0).getEventTimeMillis() + 5);

            // Each event's features are those of a straight replay of its user's events up to it.
            Map<String, UserContext> replay = new HashMap<>();
            for (int i = 0; i < events.size(); i++) {
                UserEvent e = events.get(i);
                UserContext c = replay.computeIfAbsent(e.getUserId(), u -> new UserContext());
                c.add(e);
                assertThat(out.get(i).features).containsExactly(FeatureExtractor.extract(c, e));
            }

            harness.prepareSnapshotPreBarrier(1);
            assertThat(usersInState(harness)).isEqualTo(byUser.size());
            for (var entry : byUser.entrySet()) {
                UserContext stored = stateOf(harness, entry.getKey());
                assertThat(stored).isEqualTo(replay.get(entry.getKey()));
                assertThat(stored.recentSize()).isLessThanOrEqualTo(UserContext.RECENT_CAPACITY);
                assertThat(stored.totalEvents()).isEqualTo(entry.getValue().size());
            }
        }
    }

    @Test
    void cachedUsersReachRocksDbWhenEvictedOrAtTheBarrierNotOnEveryEvent() throws Exception {
        List<UserEvent> events = TestEvents.simulated(8, 20, 400);
        long users = events.stream().map(UserEvent::getUserId).distinct().count();
        try (var harness = harness(true, 5)) {
            harness.open();
            run(harness, events);
            // Evicted users were written back: only users held since their first event can be missing.
            assertThat(usersInState(harness)).isBetween(users - 5, users);
            UserEvent last = events.get(events.size() - 1);
            UserContext stored = stateOf(harness, last.getUserId());
            long storedEvents = stored == null ? 0 : stored.totalEvents();
            long seenEvents = events.stream().filter(e -> e.getUserId().equals(last.getUserId())).count();
            assertThat(storedEvents).as("the last user's latest events are only cached").isLessThan(seenEvents);

            harness.prepareSnapshotPreBarrier(1);
            assertThat(usersInState(harness)).isEqualTo(users);
            assertThat(stateOf(harness, last.getUserId()).totalEvents()).isEqualTo(seenEvents);
        }
    }

    @Test
    void contextOfAnInactiveUserExpiresAndIsCleanedUp() throws Exception {
        List<UserEvent> events = TestEvents.simulated(6, 2, 40);
        UserEvent first = events.get(0);
        try (var harness = harness(false, 0)) {
            harness.open();
            setTime(harness, 0);
            for (int i = 0; i < 10; i++) {
                harness.processElement(TestEvents.received(events.get(i)), 0);
            }
            assertThat(harness.numKeyedStateEntries()).isEqualTo(2);

            setTime(harness, TTL.toMillis() + 1);
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
    void aCachedContextExpiresWithTheTtlAndIsNotWrittenBack() throws Exception {
        List<UserEvent> events = TestEvents.simulated(6, 2, 40);
        UserEvent late = events.get(10);
        assertThat(events.subList(0, 10)).as("the late user was active before").extracting(UserEvent::getUserId)
                .contains(late.getUserId());
        try (var harness = harness(true, 10)) {
            harness.open();
            setTime(harness, 0);
            for (int i = 0; i < 10; i++) {
                harness.processElement(TestEvents.received(events.get(i)), 0);
            }
            harness.prepareSnapshotPreBarrier(1);
            for (int i = 0; i < 10; i++) { // cached and updated, not yet written back
                harness.processElement(TestEvents.received(events.get(i)), 0);
            }

            setTime(harness, TTL.toMillis());
            harness.prepareSnapshotPreBarrier(2);
            assertThat(usersInState(harness)).as("expired in the state; the newer cached updates not written")
                    .isEqualTo(2);
            assertThat(stateOf(harness, events.get(0).getUserId())).isNull();
            assertThat(stateOf(harness, late.getUserId())).isNull();

            for (int i = 0; i < 5; i++) {
                harness.processElement(TestEvents.received(late), 0);
            }
            harness.prepareSnapshotPreBarrier(3);
            assertThat(stateOf(harness, late.getUserId()).totalEvents()).as("a returning user starts afresh").isEqualTo(5);
        }
    }

    /** The restored subtask starts with an empty cache while the uninterrupted one has a warm one. */
    @ParameterizedTest(name = "cached users: {0}")
    @ValueSource(ints = {0, 10})
    void restoreFromSnapshotInRocksDbGivesIdenticalOutput(int cachedUsers) throws Exception {
        List<UserEvent> events = TestEvents.simulated(7, 50, 3_000);
        List<UserEvent> before = events.subList(0, 1_500);
        List<UserEvent> after = events.subList(1_500, events.size());

        OperatorSubtaskState snapshot;
        List<ScoringRequest> uninterrupted;
        try (var harness = harness(true, cachedUsers)) {
            harness.open();
            run(harness, before);
            harness.prepareSnapshotPreBarrier(1L); // as the task does before every snapshot
            snapshot = harness.snapshot(1L, 1L);
            harness.getOutput().clear();
            uninterrupted = run(harness, after);
        }

        List<ScoringRequest> restored;
        try (var harness = harness(true, cachedUsers)) {
            harness.initializeState(snapshot);
            harness.open();
            restored = run(harness, after);
        }

        assertThat(restored).hasSameSizeAs(uninterrupted);
        for (int i = 0; i < restored.size(); i++) {
            assertThat(restored.get(i).eventId).isEqualTo(uninterrupted.get(i).eventId);
            assertThat(restored.get(i).features).containsExactly(uninterrupted.get(i).features);
        }
    }

    private static final int TIER = FeatureExtractor.CONTEXT_FEATURE_COUNT;
    private static final int HAS_PROFILE = TIER + Tier.values().length;

    /**
     * A profile goes into its user's context: events before it have no profile features, events after it have them;
     * a profile alone emits nothing but is kept; a later profile replaces the earlier one.
     */
    @ParameterizedTest(name = "RocksDB: {0}, cached users: {1}")
    @CsvSource({"false, 0", "true, 0", "true, 3"})
    void aProfileAppliesToTheUsersEventsFromItsArrivalOn(boolean rocksDb, int cachedUsers) throws Exception {
        List<UserEvent> events = TestEvents.simulated(11, 1, 6);
        String user = events.get(0).getUserId();
        try (var harness = harness(rocksDb, cachedUsers)) {
            harness.open();
            run(harness, events.subList(0, 2));
            harness.processElement(ReceivedRecord.profile(profile(user, Tier.ENTERPRISE), 5L), 5L);
            harness.processElement(ReceivedRecord.profile(profile("profile-only", Tier.FREE), 6L), 6L);
            run(harness, events.subList(2, 4));
            harness.processElement(ReceivedRecord.profile(profile(user, Tier.PRO), 7L), 7L);
            List<ScoringRequest> out = run(harness, events.subList(4, 6));

            assertThat(out).hasSize(6);
            assertThat(out.subList(0, 2)).allSatisfy(r -> {
                assertThat(r.features[HAS_PROFILE]).isZero();
                assertThat(r.features[TIER + Tier.ENTERPRISE.ordinal()]).isZero();
            });
            assertThat(out.subList(2, 4)).allSatisfy(r -> {
                assertThat(r.features[HAS_PROFILE]).isEqualTo(1f);
                assertThat(r.features[TIER + Tier.ENTERPRISE.ordinal()]).isEqualTo(1f);
            });
            assertThat(out.subList(4, 6)).allSatisfy(r -> {
                assertThat(r.features[TIER + Tier.PRO.ordinal()]).isEqualTo(1f);
                assertThat(r.features[TIER + Tier.ENTERPRISE.ordinal()]).isZero();
            });
            harness.prepareSnapshotPreBarrier(1);
            assertThat(stateOf(harness, user).tier()).isEqualTo(Tier.PRO);
            assertThat(stateOf(harness, user).totalEvents()).isEqualTo(6);
            assertThat(stateOf(harness, "profile-only").tier()).isEqualTo(Tier.FREE);
            assertThat(stateOf(harness, "profile-only").totalEvents()).isZero();
        }
    }

    private static UserProfile profile(String user, Tier tier) {
        return UserProfile.newBuilder().setUserId(user).setTier(tier).setLocale("en-US")
                .setSignupTimeMillis(1_600_000_000_000L).build();
    }

    /** A model update on the second input passes on as a control request, between the events, and keeps no state. */
    @Test
    void aModelUpdatePassesOnAsAControlRequest() throws Exception {
        ModelUpdate update = ModelUpdate.newBuilder().setModelName("m").setVersion("2").setUri("s3://models/m.pt")
                .setSha256("ab".repeat(32)).build();
        List<UserEvent> events = TestEvents.simulated(5, 3, 4);
        try (var harness = new KeyedTwoInputStreamOperatorTestHarness<String, ReceivedRecord, ReceivedRecord, ScoringRequest>(
                new UserContextOperator(TTL, 0), ReceivedRecord::userId, r -> "", Types.STRING)) {
            harness.open();
            harness.processElement1(TestEvents.received(events.get(0)), 1L);
            harness.processElement2(ReceivedRecord.modelUpdate(update, 2L), 2L);
            harness.processElement1(TestEvents.received(events.get(1)), 3L);
            List<ScoringRequest> out = harness.extractOutputValues();
            assertThat(out).hasSize(3);
            assertThat(out.get(0).isControl()).isFalse();
            assertThat(out.get(1).isControl()).isTrue();
            assertThat(out.get(1).modelUpdate).isEqualTo(update);
            assertThat(out.get(2).isControl()).isFalse();
        }
    }
}
