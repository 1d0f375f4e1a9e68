package dev.flinkai.bench;

import dev.flinkai.operators.context.UserContext;
import dev.flinkai.operators.features.FeatureExtractor;
import dev.flinkai.operators.simulation.UserBehaviourSimulator;
import dev.flinkai.schemas.UserEvent;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a result cache in front of the model ({@code model.cache.size}, {@code CachingModelClient}) would hit on the
 * generator's traffic. Runs the generator's simulator ({@link UserBehaviourSimulator}, one partition, as
 * {@code EventGeneratorJob} at parallelism 1: Zipf-skewed users, profiles written in user order at
 * {@code --profile-rate} from the start) on a clock of {@code --rate} events per second, folds every event into its
 * user's {@link UserContext} and extracts the features as the job does, then passes the rows in their order through
 * Caffeine caches of the given sizes, keyed as the client keys them (the exact values of the features the model reads),
 * putting a row on a miss: for the version-2 model (all 38 features) and version 1 (the first 32). Then it tells which features make the
 * rows unique: the hit rate of an unbounded cache with all features, without groups of them (time-derived, the
 * event's own measurements, running means), on each feature alone and without it, and of a key that grows one
 * feature at a time, the one that takes most hits away first. It also measures what the cache costs per row in CPU
 * time (the key, the lookup, the put on a miss), to set against what the model costs per row.
 *
 * <p>Prints the tables to stderr and one JSON object to stdout.
 *
 * <pre>
 * java -Xmx6g -cp flink-ai-bench.jar:slf4j-api.jar:slf4j-nop.jar dev.flinkai.bench.CacheHitRate \
 *   --events 2000000 --users 1000000 \
 *   [--zipf 0.8] [--seed 1] [--rate 1000] [--profile-rate 5000] [--sizes 10000,100000,1000000] [--greedy-steps 6]
 * </pre>
 */
public final class CacheHitRate {

    /** FeatureExtractor's layout, index by index (its class comment and constants). */
    private static final List<String> NAMES = names();

    private CacheHitRate() {}

    public static void main(String[] args) {
        Map<String, String> a = BenchArgs.parse(args);
        int events = Integer.parseInt(BenchArgs.get(a, "events", "2000000"));
        int users = Integer.parseInt(BenchArgs.get(a, "users", "1000000"));
        double zipf = Double.parseDouble(BenchArgs.get(a, "zipf", "0.8"));
        long seed = Long.parseLong(BenchArgs.get(a, "seed", "1"));
        double rate = Double.parseDouble(BenchArgs.get(a, "rate", "1000"));
        double profileRate = Double.parseDouble(BenchArgs.get(a, "profile-rate", "5000"));
        int[] sizes = Arrays.stream(BenchArgs.get(a, "sizes", "10000,100000,1000000").split(","))
                .mapToInt(s -> Integer.parseInt(s.trim())).toArray();
        int greedySteps = Integer.parseInt(BenchArgs.get(a, "greedy-steps", "6"));
        int width = FeatureExtractor.FEATURE_COUNT;
        int v1Width = FeatureExtractor.CONTEXT_FEATURE_COUNT;
        if (NAMES.size() != width) {
            throw new IllegalStateException("the names here cover " + NAMES.size() + " features, FeatureExtractor has "
                    + width + ": update CacheHitRate.names()");
        }

        float[] rows = new float[(int) Math.min((long) events * width, Integer.MAX_VALUE - 8)];
        if ((long) events * width > rows.length) {
            throw new IllegalArgumentException("--events " + events + " rows of " + width + " features do not fit one array");
        }

        long t0 = System.nanoTime();
        UserBehaviourSimulator simulator = new UserBehaviourSimulator(seed, users, zipf, 0, 1);
        UserContext[] contexts = new UserContext[users];
        long start = 1_700_000_000_000L;
        float[] features = new float[width];
        int distinctUsers = 0;
        for (int i = 0; i < events; i++) {
            long now = start + (long) (i * 1000.0 / rate);
            UserEvent event = simulator.next("ev-" + i, now);
            int user = Integer.parseInt(event.getUserId().substring("user-".length()));
            UserContext context = contexts[user];
            if (context == null) {
                context = contexts[user] = new UserContext();
                distinctUsers++;
            }
            if (!context.hasProfile() && now >= start + (long) (user * 1000.0 / profileRate)) {
                context.setProfile(UserBehaviourSimulator.profileOf(event.getUserId(), start));
            }
            context.add(event);
            FeatureExtractor.extract(context, event, features);
            System.arraycopy(features, 0, rows, i * width, width);
        }
        double simulateSeconds = (System.nanoTime() - t0) / 1e9;

        Map<String, Object> out = new LinkedHashMap<>();
        out.put("events", events);
        out.put("users", users);
        out.put("distinct_users", distinctUsers);
        out.put("zipf", zipf);
        out.put("seed", seed);
        out.put("rate", rate);
        out.put("profile_rate", profileRate);
        System.err.printf("%,d events of %,d users (%,d seen), Zipf %.2f, seed %d, %.0f events/s, profiles at %.0f/s "
                + "(%.1f s)%n", events, users, distinctUsers, zipf, seed, rate, profileRate, simulateSeconds);
        System.err.println("| cache size | hit rate, model v2 (38 features) | hit rate, model v1 (first 32) | "
                + "CPU ns per row (v2: key, lookup, put on a miss) |");
        System.err.println("|---:|---:|---:|---:|");
        List<Object> bounded = new ArrayList<>();
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        replay(rows, Math.min(events, 500_000), width, width, sizes[0]); // warm-up: compiled code for the timed passes
        for (int size : sizes) {
            long cpu = threads.getCurrentThreadCpuTime();
            long v2Hits = replay(rows, events, width, width, size);
            double v2Nanos = (double) (threads.getCurrentThreadCpuTime() - cpu) / events;
            long v1Hits = replay(rows, events, width, v1Width, size);
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("size", size);
            r.put("v2_hit_rate", ModelLimitBench.round((double) v2Hits / events, 6));
            r.put("v1_hit_rate", ModelLimitBench.round((double) v1Hits / events, 6));
            r.put("v2_cpu_ns_per_row", ModelLimitBench.round(v2Nanos, 1));
            bounded.add(r);
            System.err.printf("| %,d | %s | %s | %.0f |%n", size, percent(v2Hits, events), percent(v1Hits, events),
                    v2Nanos);
        }
        out.put("bounded", bounded);

        // Unbounded: every repeat of an earlier row is a hit.
        boolean[] kept = new boolean[width];
        Arrays.fill(kept, true);
        out.put("unbounded_v2_hit_rate", ModelLimitBench.round(repeatRate(rows, events, width, kept), 6));
        boolean[] v1 = new boolean[width];
        Arrays.fill(v1, 0, v1Width, true);
        out.put("unbounded_v1_hit_rate", ModelLimitBench.round(repeatRate(rows, events, width, v1), 6));
        System.err.printf("unbounded cache: v2 %s, v1 %s%n", percentOf((double) out.get("unbounded_v2_hit_rate")),
                percentOf((double) out.get("unbounded_v1_hit_rate")));

        System.err.println("| left out of the key | unbounded hit rate (v2) |");
        System.err.println("|---|---:|");
        List<Object> groups = new ArrayList<>();
        for (Map.Entry<String, int[]> group : groups().entrySet()) {
            boolean[] without = kept.clone();
            for (int f : group.getValue()) {
                without[f] = false;
            }
            double r = repeatRate(rows, events, width, without);
            Map<String, Object> g = new LinkedHashMap<>();
            g.put("left_out", group.getKey());
            g.put("hit_rate", ModelLimitBench.round(r, 6));
            groups.add(g);
            System.err.printf("| %s | %s |%n", group.getKey(), percentOf(r));
        }
        out.put("groups_left_out", groups);

        System.err.println("| feature | distinct values | unbounded hit rate on it alone | without it (v2) |");
        System.err.println("|---|---:|---:|---:|");
        List<Object> perFeature = new ArrayList<>();
        boolean[] none = new boolean[width];
        for (int f = 0; f < width; f++) {
            none[f] = true;
            double alone = repeatRate(rows, events, width, none);
            none[f] = false;
            kept[f] = false;
            double without = repeatRate(rows, events, width, kept);
            kept[f] = true;
            int distinct = distinctValues(rows, events, width, f);
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("index", f);
            r.put("feature", NAMES.get(f));
            r.put("distinct_values", distinct);
            r.put("hit_rate_alone", ModelLimitBench.round(alone, 6));
            r.put("hit_rate_without", ModelLimitBench.round(without, 6));
            perFeature.add(r);
            System.err.printf("| %d %s | %,d | %s | %s |%n", f, NAMES.get(f), distinct, percentOf(alone),
                    percentOf(without));
        }
        out.put("per_feature", perFeature);

        // Which features make rows unique: from an empty key, add the one that takes the most hits away, and so on.
        System.err.println("| key of, one added after the other (the one that takes most hits away first) | "
                + "unbounded hit rate (v2) |");
        System.err.println("|---|---:|");
        List<Object> greedy = new ArrayList<>();
        for (int step = 0; step < greedySteps; step++) {
            int best = -1;
            double bestRate = 2;
            for (int f = 0; f < width; f++) {
                if (none[f]) {
                    continue;
                }
                none[f] = true;
                double r = repeatRate(rows, events, width, none);
                none[f] = false;
                if (r < bestRate) {
                    best = f;
                    bestRate = r;
                }
            }
            none[best] = true;
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("added", NAMES.get(best));
            r.put("hit_rate", ModelLimitBench.round(bestRate, 6));
            greedy.add(r);
            System.err.printf("| + %d %s | %s |%n", best, NAMES.get(best), percentOf(bestRate));
        }
        out.put("greedy", greedy);
        out.put("seconds", ModelLimitBench.round((System.nanoTime() - t0) / 1e9, 1));
        System.out.println(BenchArgs.toJson(out));
    }

    /** A Caffeine cache as the client builds it: bounded, maintained on the writing thread. */
    private static Cache<RowKey, Boolean> cache(int size) {
        return Caffeine.newBuilder().maximumSize(size).executor(Runnable::run).build();
    }

    /**
     * The hits of a cache of {@code size} rows on the rows in their order, keyed by the first {@code read} features:
     * each row is looked up and, on a miss, put, as the client does with the model's answer.
     */
    private static long replay(float[] rows, int count, int width, int read, int size) {
        Cache<RowKey, Boolean> cache = cache(size);
        long hits = 0;
        for (int i = 0; i < count; i++) {
            RowKey key = new RowKey(rows, i * width, read);
            if (cache.getIfPresent(key) != null) {
                hits++;
            } else {
                cache.put(key, Boolean.TRUE);
            }
        }
        return hits;
    }

    /** The share of rows equal (on the kept features) to an earlier row: an unbounded cache's hit rate. */
    private static double repeatRate(float[] rows, int count, int width, boolean[] kept) {
        long[] hashes = new long[count];
        for (int i = 0; i < count; i++) {
            long h = 0x9E3779B97F4A7C15L;
            int base = i * width;
            for (int f = 0; f < width; f++) {
                if (kept[f]) {
                    h = (h ^ Float.floatToIntBits(rows[base + f])) * 0xBF58476D1CE4E5B9L;
                    h ^= h >>> 31;
                }
            }
            hashes[i] = h;
        }
        Arrays.sort(hashes);
        int distinct = count == 0 ? 0 : 1;
        for (int i = 1; i < count; i++) {
            if (hashes[i] != hashes[i - 1]) {
                distinct++;
            }
        }
        return count == 0 ? 0 : (double) (count - distinct) / count;
    }

    private static int distinctValues(float[] rows, int count, int width, int feature) {
        int[] bits = new int[count];
        for (int i = 0; i < count; i++) {
            bits[i] = Float.floatToIntBits(rows[i * width + feature]);
        }
        Arrays.sort(bits);
        int distinct = count == 0 ? 0 : 1;
        for (int i = 1; i < count; i++) {
            if (bits[i] != bits[i - 1]) {
                distinct++;
            }
        }
        return distinct;
    }

    private static String percent(long part, long whole) {
        return percentOf((double) part / whole);
    }

    private static String percentOf(double share) {
        return String.format("%.3f %%", 100 * share);
    }

    /** Features that vary from event to event in ways a repeat would have to match exactly. */
    private static Map<String, int[]> groups() {
        Map<String, int[]> groups = new LinkedHashMap<>();
        int[] time = {index("log_seconds_since_previous"), index("log_days_since_signup")};
        int[] measured = {index("latency_seconds"), index("log_tokens"), index("current_outcome"),
            index("current_rating")};
        int[] running = {index("lifetime_type_share_0"), index("lifetime_type_share_1"), index("lifetime_type_share_2"),
            index("lifetime_type_share_3"), index("recent_mean_latency_seconds"), index("lifetime_mean_latency_seconds"),
            index("task_success_rate"), index("mean_rating"), index("log_mean_tokens")};
        groups.put("time-derived: log_seconds_since_previous, log_days_since_signup", time);
        groups.put("the event's own: latency_seconds, log_tokens, current_outcome, current_rating", measured);
        groups.put("running shares and means over the user's history (9)", running);
        groups.put("time-derived + the event's own", concat(time, measured));
        groups.put("all three groups", concat(concat(time, measured), running));
        return groups;
    }

    private static int index(String name) {
        int i = NAMES.indexOf(name);
        if (i < 0) {
            throw new IllegalStateException("no feature " + name);
        }
        return i;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] all = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    private static List<String> names() {
        List<String> names = new ArrayList<>();
        for (String block : List.of("current_type", "previous_type", "recent_type_share", "lifetime_type_share")) {
            for (int t = 0; t < FeatureExtractor.EVENT_TYPES; t++) {
                names.add(block + "_" + t);
            }
        }
        names.addAll(List.of("log_total_events", "latency_seconds", "recent_mean_latency_seconds",
                "lifetime_mean_latency_seconds", "task_success_rate", "log_tasks", "mean_rating", "log_ratings",
                "current_outcome", "current_rating", "log_tokens", "log_mean_tokens", "log_seconds_since_previous",
                "log_session_events", "priority", "features_used_share"));
        for (int t = 0; t < dev.flinkai.schemas.Tier.values().length; t++) {
            names.add("profile_tier_" + t);
        }
        names.addAll(List.of("has_profile", "log_days_since_signup", "current_feature_preferred"));
        return names;
    }

    /** The features a model reads, compared by value as the client's cache key compares them. */
    private static final class RowKey {
        private final float[] features;
        private final int hash;

        RowKey(float[] rows, int from, int width) {
            this.features = Arrays.copyOfRange(rows, from, from + width);
            this.hash = Arrays.hashCode(features);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof RowKey k && hash == k.hash && Arrays.equals(features, k.features);
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }
}
