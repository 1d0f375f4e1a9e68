package dev.flinkai.operators.context;

import dev.flinkai.schemas.UserEvent;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RecentContextsTest {

    private static final long TTL = 1_000;

    /** Stands in for the keyed state: keeps a copy of what is written, as RocksDB keeps serialized bytes. */
    private final Map<String, UserContext> state = new HashMap<>();
    private final List<String> writes = new ArrayList<>();
    private final RecentContexts.StateWriter writer = (user, context) -> {
        writes.add(user);
        state.put(user, context.copy());
    };

    private static UserContext contextWithEvents(int events) {
        UserContext context = new UserContext();
        TestEvents.simulated(3, 1, events).forEach(context::add);
        return context;
    }

    @Test
    void evictsAUserNotUsedSinceAdmittedBeforeOneUsedAgainAndWritesItBack() throws Exception {
        RecentContexts cache = new RecentContexts(2, TTL);
        UserContext a = cache.admit("a", contextWithEvents(1), 0, writer);
        UserContext b = cache.admit("b", contextWithEvents(2), 0, writer);
        b.add(TestEvents.simulated(4, 1, 1).get(0));
        UserContext bAtEviction = b.copy();
        assertThat(cache.getForUpdate("a", 1)).isSameAs(a); // a is now the most recently used
        assertThat(writes).isEmpty();

        cache.admit("c", new UserContext(), 2, writer);
        assertThat(writes).containsExactly("b");
        assertThat(state.get("b")).isEqualTo(bAtEviction);
        assertThat(cache.size()).isEqualTo(2);
        assertThat(cache.getForUpdate("b", 3)).isNull();
        assertThat(cache.getForUpdate("a", 3)).isSameAs(a);
    }

    @Test
    void anAdmittedUserGetsTheEvictedUsersObjectWithTheStoredContent() throws Exception {
        RecentContexts cache = new RecentContexts(1, TTL);
        UserContext first = cache.admit("a", contextWithEvents(5), 0, writer);
        UserContext stored = contextWithEvents(9);
        UserContext expected = stored.copy();

        UserContext second = cache.admit("b", stored, 1, writer);
        assertThat(second).isSameAs(first).isNotSameAs(stored).isEqualTo(expected);
        assertThat(state.get("a")).as("a was written before its object was reused").isEqualTo(contextWithEvents(5));
    }

    @Test
    void writeBackAllWritesWhatWasUpdatedSinceTheLastWriteBackAndKeepsItCached() throws Exception {
        RecentContexts cache = new RecentContexts(10, TTL);
        UserContext a = cache.admit("a", new UserContext(), 0, writer);
        cache.admit("b", new UserContext(), 0, writer);
        cache.writeBackAll(1, writer);
        assertThat(writes).containsExactlyInAnyOrder("a", "b");

        writes.clear();
        assertThat(cache.getForUpdate("a", 2)).isSameAs(a);
        cache.writeBackAll(3, writer);
        assertThat(writes).containsExactly("a");

        writes.clear();
        cache.writeBackAll(4, writer);
        assertThat(writes).isEmpty();
        assertThat(cache.size()).isEqualTo(2);
    }

    @Test
    void anEntryUpdatedAtLeastTheTtlAgoIsDroppedAndNeverWritten() throws Exception {
        RecentContexts cache = new RecentContexts(2, TTL);
        UserContext a = cache.admit("a", new UserContext(), 100, writer);
        assertThat(cache.getForUpdate("a", 100 + TTL - 1)).isSameAs(a); // updated again at 1099: the TTL restarts
        assertThat(cache.getForUpdate("a", 1099 + TTL)).as("as old as the TTL: expired").isNull();
        assertThat(cache.size()).isZero();

        cache.admit("b", new UserContext(), 0, writer);
        cache.admit("c", new UserContext(), TTL, writer);
        cache.admit("d", new UserContext(), TTL, writer); // evicts b, expired
        cache.writeBackAll(2 * TTL, writer);               // c and d expired
        assertThat(writes).isEmpty();
        assertThat(cache.size()).isZero();
    }

    /**
     * Many users through a small cache (evictions, hash collisions, deletions from the index): whatever the cache
     * returns is the user's latest context, and what it misses the keyed state holds, as a plain map would.
     */
    @Test
    void behavesLikeAMapInFrontOfTheStateUnderChurn() throws Exception {
        RecentContexts cache = new RecentContexts(50, TTL);
        Map<String, UserContext> latest = new HashMap<>();
        SplittableRandom random = new SplittableRandom(11);
        List<UserEvent> events = TestEvents.simulated(12, 1, 20_000);
        for (int i = 0; i < events.size(); i++) {
            String user = "u" + random.nextInt(random.nextBoolean() ? 30 : 400);
            UserContext context = cache.getForUpdate(user, i);
            if (context != null) {
                assertThat(context).as("cached context of %s at %d", user, i).isEqualTo(latest.get(user));
            } else {
                UserContext stored = state.get(user);
                assertThat(stored).as("stored context of %s at %d", user, i).isEqualTo(latest.get(user));
                context = cache.admit(user, stored == null ? new UserContext() : stored.copy(), i, writer);
            }
            context.add(events.get(i));
            latest.put(user, context.copy());
            assertThat(cache.size()).isLessThanOrEqualTo(50);
        }
        cache.writeBackAll(events.size(), writer);
        assertThat(state).isEqualTo(latest);
    }

    @Test
    void rejectsAnEmptyBound() {
        assertThatThrownBy(() -> new RecentContexts(0, TTL)).hasMessageContaining("maxUsers");
    }
}
