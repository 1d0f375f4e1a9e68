package dev.flinkai.operators.context;

import dev.flinkai.operators.simulation.UserBehaviourSimulator;
import dev.flinkai.schemas.UserEvent;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.management.ManagementFactory;
import java.util.concurrent.TimeUnit;

/**
 * The user-context cache of {@link UserContextOperator} on the job benchmark's user mix (1M users, Zipf 0.8) with
 * the job's default size (200,000 users): the cost per event of finding or admitting the user's context, evictions
 * included, without the RocksDB reads and writes it saves or makes. Here (package-private class) rather than in
 * {@code operators.bench}.
 *
 * <p>Printed at setup: the hit rate on this mix and the heap one cached user takes (measured after GC).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class RecentContextsBenchmark {

    private static final int CACHED_USERS = 200_000;
    private static final int USERS = 1_000_000;
    private static final int EVENTS = 1 << 21; // power of two: index with a mask
    private static final int MASK = EVENTS - 1;
    private static final RecentContexts.StateWriter DISCARD = (user, context) -> { };

    private String[] userOfEvent;
    private UserContext stored;
    private RecentContexts cache;
    private int next;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        UserBehaviourSimulator simulator = new UserBehaviourSimulator(42, USERS, 0.8, 0, 1);
        userOfEvent = new String[EVENTS];
        stored = new UserContext();
        for (int i = 0; i < EVENTS; i++) {
            UserEvent event = simulator.next("ev-" + i, 1_700_000_000_000L + i);
            userOfEvent[i] = event.getUserId();
            if (i < 200) {
                stored.add(event);
            }
        }
        cache = new RecentContexts(CACHED_USERS, Long.MAX_VALUE);
        long hits = 0;
        for (int round = 0; round < 2; round++) { // the first round fills the cache; the second counts
            hits = 0;
            for (String user : userOfEvent) {
                if (cache.getForUpdate(user, 0) != null) {
                    hits++;
                } else {
                    cache.admit(user, stored.copy(), 0, DISCARD);
                }
            }
        }
        System.out.printf("NOTE RecentContexts, %,d of %,d users (Zipf 0.8) cached: hit rate %.1f %%; heap per cached user "
                + "%d B%n", CACHED_USERS, USERS, 100.0 * hits / EVENTS, heapPerCachedUser());
    }

    /** Finds the user's context, or admits it (evicting the least recently used) as on a miss. */
    @Benchmark
    public UserContext event() throws Exception {
        String user = userOfEvent[next++ & MASK];
        UserContext context = cache.getForUpdate(user, 0);
        return context != null ? context : cache.admit(user, stored, 0, DISCARD);
    }

    /** A full cache of distinct users with their own key strings and contexts, as the job's cache holds them. */
    private long heapPerCachedUser() throws Exception {
        long before = usedHeapAfterGc();
        RecentContexts full = new RecentContexts(CACHED_USERS, Long.MAX_VALUE);
        for (int i = 0; i < CACHED_USERS; i++) {
            full.admit(UserBehaviourSimulator.userId(i), stored.copy(), 0, DISCARD);
        }
        long after = usedHeapAfterGc();
        if (full.size() != CACHED_USERS) {
            throw new IllegalStateException("cache holds " + full.size());
        }
        return (after - before) / CACHED_USERS;
    }

    private static long usedHeapAfterGc() throws InterruptedException {
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(100);
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
