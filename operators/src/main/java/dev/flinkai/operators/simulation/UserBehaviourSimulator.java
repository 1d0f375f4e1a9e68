package dev.flinkai.operators.simulation;

import dev.flinkai.operators.context.UserContext;
import dev.flinkai.schemas.EventType;
import dev.flinkai.schemas.Tier;
import dev.flinkai.schemas.UserEvent;
import dev.flinkai.schemas.UserProfile;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Simulates the users of an AI assistant. Each user has a hidden {@link Persona} that decides what they tend to do
 * next, how slow their answers are, how often their tasks fail and how they rate. User popularity is Zipf-skewed, as
 * in real traffic: a few users produce most events.
 *
 * <p>The persona is never written into the event; a model has to infer it from the user's context, which is what
 * makes the generated stream worth learning from. A simulator owns one partition of the users (user index modulo
 * partitions), so parallel generator instances never interleave one user's event sequence.
 *
 * <p>Each user also has a profile ({@link #profileOf}): a tier, a locale, a signup time and a preferred feature that
 * go with the persona (power users are mostly enterprise customers of long standing, strugglers new free users), so a
 * model that sees the profile knows a new user better. It is drawn from the user id alone and leaves the event
 * sequence as it was.
 *
 * <p>Deterministic for a given seed and call sequence. Its whole state can be taken ({@link #snapshot()}) and a
 * simulator {@link #restore restored} from it continues exactly where the first one was: what a checkpointed generator
 * needs to go on after a failure as if there had been none (and, at another parallelism, with each user where they
 * were). Not thread-safe.
 */
public final class UserBehaviourSimulator {

    public enum Persona { EXPLORER, POWER_USER, STRUGGLER, CASUAL }

    private static final EventType[] TYPES = EventType.values();

    /** TRANSITIONS[persona][previous type][next type], types in {@link EventType} order. */
    private static final double[][][] TRANSITIONS = {
        { // EXPLORER: asks a lot, wanders between features
            {0.60, 0.20, 0.10, 0.10}, {0.60, 0.10, 0.10, 0.20}, {0.70, 0.10, 0.10, 0.10}, {0.60, 0.10, 0.20, 0.10}},
        { // POWER_USER: acts, completes tasks, rarely rates
            {0.10, 0.70, 0.05, 0.15}, {0.05, 0.30, 0.05, 0.60}, {0.20, 0.60, 0.10, 0.10}, {0.15, 0.70, 0.10, 0.05}},
        { // STRUGGLER: tries tasks straight away, then complains
            {0.20, 0.10, 0.10, 0.60}, {0.30, 0.10, 0.10, 0.50}, {0.60, 0.10, 0.20, 0.10}, {0.10, 0.10, 0.70, 0.10}},
        { // CASUAL: asks and rates
            {0.20, 0.10, 0.60, 0.10}, {0.20, 0.10, 0.60, 0.10}, {0.70, 0.10, 0.10, 0.10}, {0.20, 0.10, 0.60, 0.10}},
    };
    private static final double[] MEDIAN_LATENCY_MILLIS = {900, 400, 2500, 1200};
    private static final double[] TASK_SUCCESS = {0.70, 0.92, 0.30, 0.60};
    private static final double[] MEAN_RATING = {3.6, 4.4, 2.0, 3.9};
    private static final double[] NEW_SESSION = {0.08, 0.03, 0.12, 0.20};
    private static final String[][] FEATURES = {
        {"chat", "search", "code", "summarize", "translate", "image", "agent"},
        {"code", "agent", "search"},
        {"chat", "search"},
        {"chat", "summarize"},
    };

    /** TIER_SHARE[persona][tier], tiers in {@link Tier} order. */
    private static final double[][] TIER_SHARE = {{0.50, 0.40, 0.10}, {0.10, 0.40, 0.50}, {0.80, 0.15, 0.05}, {0.85, 0.15, 0.00}};
    /** Days between signup and now: from, to. */
    private static final int[][] ACCOUNT_AGE_DAYS = {{0, 300}, {200, 1000}, {0, 60}, {30, 700}};
    /** The feature a user's profile names as preferred: the persona's own most of the time. */
    private static final String[] PREFERRED_FEATURE = {"image", "agent", "search", "summarize"};
    private static final double PREFERS_OWN = 0.8;
    private static final String[] ALL_FEATURES = {"chat", "search", "code", "summarize", "translate", "image", "agent"};
    private static final String[] LOCALES = {"en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "ja-JP", "pt-BR"};

    private static final int STATE_FORMAT = 1;

    private final SplitMix64 random;
    private final int partition;
    private final int partitions;
    private final double[] popularityCdf;
    // Per simulated user (local index): what they did last, which session they are in.
    private final byte[] lastType;
    private final byte[] lastOutcome; // 0 none, 1 success, 2 failure
    private final int[] sessionNumber;

    /**
     * @param users total users across all partitions
     * @param zipfExponent popularity skew; 0 = uniform, ~1 = web-like
     */
    public UserBehaviourSimulator(long seed, int users, double zipfExponent, int partition, int partitions) {
        if (users < partitions) {
            throw new IllegalArgumentException("users (" + users + ") must be at least the partitions (" + partitions + ")");
        }
        this.random = new SplitMix64(seed * 1_000_003L + partition);
        this.partition = partition;
        this.partitions = partitions;
        int local = (users - partition + partitions - 1) / partitions;
        this.popularityCdf = zipfCdf(local, zipfExponent);
        this.lastType = new byte[local];
        java.util.Arrays.fill(lastType, (byte) -1);
        this.lastOutcome = new byte[local];
        this.sessionNumber = new int[local];
    }

    /**
     * The simulator's state: its random stream's position and what each of its users did last. About 6 bytes per
     * user of the partition.
     */
    public byte[] snapshot() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(32 + lastType.length * 6);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeByte(STATE_FORMAT);
            out.writeInt(partition);
            out.writeInt(partitions);
            out.writeInt(lastType.length);
            out.writeLong(random.seed);
            out.write(lastType);
            out.write(lastOutcome);
            for (int session : sessionNumber) {
                out.writeInt(session);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /**
     * The simulator of {@code partition} of {@code partitions} that goes on from the snapshots ({@link #snapshot()}) of
     * a run's simulators. With this partition's own snapshot it goes on exactly as the simulator it was taken from would
     * have: the same users, events and random numbers. After a change of partitioning it takes each of its users' last
     * event and session from whichever snapshot held the user, and draws a random stream of its own from the
     * snapshots' streams.
     *
     * @throws IllegalArgumentException when a snapshot is unreadable or of another number of users
     */
    public static UserBehaviourSimulator restore(Collection<byte[]> states, long seed, int users, double zipfExponent,
                                                 int partition, int partitions) {
        List<Snapshot> snapshots = new ArrayList<>();
        for (byte[] state : states) {
            snapshots.add(Snapshot.read(state, users));
        }
        snapshots.sort(Comparator.comparingInt((Snapshot s) -> s.partitions).thenComparingInt(s -> s.partition));
        UserBehaviourSimulator simulator = new UserBehaviourSimulator(seed, users, zipfExponent, partition, partitions);
        long streams = seed * 1_000_003L + partition;
        for (Snapshot snapshot : snapshots) {
            if (snapshot.partition == partition && snapshot.partitions == partitions) {
                simulator.random.seed = snapshot.randomSeed;
                System.arraycopy(snapshot.lastType, 0, simulator.lastType, 0, simulator.lastType.length);
                System.arraycopy(snapshot.lastOutcome, 0, simulator.lastOutcome, 0, simulator.lastOutcome.length);
                System.arraycopy(snapshot.sessionNumber, 0, simulator.sessionNumber, 0, simulator.sessionNumber.length);
                return simulator;
            }
            streams = streams * 31 + snapshot.randomSeed;
            for (int local = 0; local < snapshot.lastType.length; local++) {
                long user = (long) local * snapshot.partitions + snapshot.partition;
                if (user % partitions == partition) {
                    int mine = (int) (user / partitions);
                    simulator.lastType[mine] = snapshot.lastType[local];
                    simulator.lastOutcome[mine] = snapshot.lastOutcome[local];
                    simulator.sessionNumber[mine] = snapshot.sessionNumber[local];
                }
            }
        }
        simulator.random.seed = new SplitMix64(streams).nextLong();
        return simulator;
    }

    /** One simulator's state as {@link #snapshot()} wrote it. */
    private record Snapshot(int partition, int partitions, long randomSeed, byte[] lastType, byte[] lastOutcome,
                            int[] sessionNumber) {
        static Snapshot read(byte[] state, int users) {
            try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(state))) {
                int format = in.readUnsignedByte();
                if (format != STATE_FORMAT) {
                    throw new IllegalArgumentException("Unknown simulator state format " + format);
                }
                int partition = in.readInt();
                int partitions = in.readInt();
                int local = in.readInt();
                if (local != (users - partition + partitions - 1) / partitions) {
                    throw new IllegalArgumentException("The simulator state of partition " + partition + " of "
                            + partitions + " holds " + local + " users: not a share of " + users + " users");
                }
                long randomSeed = in.readLong();
                byte[] lastType = new byte[local];
                in.readFully(lastType);
                byte[] lastOutcome = new byte[local];
                in.readFully(lastOutcome);
                int[] sessionNumber = new int[local];
                for (int i = 0; i < local; i++) {
                    sessionNumber[i] = in.readInt();
                }
                return new Snapshot(partition, partitions, randomSeed, lastType, lastOutcome, sessionNumber);
            } catch (IOException e) {
                throw new IllegalArgumentException("Unreadable simulator state", e);
            }
        }
    }

    /** Every assistant feature the simulated users use. */
    public static List<String> features() {
        return List.of(ALL_FEATURES);
    }

    public static String userId(long globalIndex) {
        return "user-" + globalIndex;
    }

    /** The hidden behaviour type of a user: a fixed function of the id, so every generator agrees on it. */
    public static Persona personaOf(String userId) {
        int h = userId.hashCode() * 0x9E3779B1;
        return Persona.values()[Math.floorMod(h ^ (h >>> 16), Persona.values().length)];
    }

    /**
     * The profile of a user as of {@code nowMillis}: a fixed function of the id (its own random numbers, so the
     * simulated events stay the same with or without profiles).
     */
    public static UserProfile profileOf(String userId, long nowMillis) {
        int persona = personaOf(userId).ordinal();
        SplittableRandom r = new SplittableRandom(userId.hashCode() * 0x9E3779B97F4A7C15L + 17);
        double u = r.nextDouble();
        int tier = 0;
        for (double share = TIER_SHARE[persona][0]; u >= share && tier < Tier.values().length - 1; ) {
            share += TIER_SHARE[persona][++tier];
        }
        int[] age = ACCOUNT_AGE_DAYS[persona];
        long days = age[0] + r.nextInt(age[1] - age[0] + 1);
        String preferred = r.nextDouble() < PREFERS_OWN ? PREFERRED_FEATURE[persona]
                : ALL_FEATURES[r.nextInt(ALL_FEATURES.length)];
        return UserProfile.newBuilder()
                .setUserId(userId)
                .setTier(Tier.values()[tier])
                .setLocale(LOCALES[r.nextInt(LOCALES.length)])
                .setSignupTimeMillis(nowMillis - days * 86_400_000L - r.nextInt(86_400_000))
                .setPreferences(Map.of(UserContext.PREFERRED_FEATURE, preferred))
                .build();
    }

    /** The next event of a popularity-weighted random user of this partition. */
    public UserEvent next(String eventId, long eventTimeMillis) {
        int local = pickUser();
        String userId = userId((long) local * partitions + partition);
        int persona = personaOf(userId).ordinal();

        int previous = lastType[local];
        int type = previous < 0 ? EventType.QUERY.ordinal() : sample(TRANSITIONS[persona][previous]);
        if (previous < 0 || random.nextDouble() < NEW_SESSION[persona]) {
            sessionNumber[local]++;
        }

        UserEvent.Builder event = UserEvent.newBuilder()
                .setEventId(eventId)
                .setUserId(userId)
                .setSessionId(userId + "-s" + sessionNumber[local])
                .setEventType(TYPES[type])
                .setEventTimeMillis(eventTimeMillis)
                .setPriority(persona == Persona.POWER_USER.ordinal() ? 1 + (random.nextDouble() < 0.2 ? 1 : 0) : 0)
                .setFeature(FEATURES[persona][random.nextInt(FEATURES[persona].length)])
                .setLatencyMillis((int) Math.round(MEDIAN_LATENCY_MILLIS[persona] * Math.exp(0.5 * gaussian())));
        int outcome = 0;
        switch (TYPES[type]) {
            case QUERY:
                event.setInputTokens(20 + random.nextInt(200)).setOutputTokens(100 + random.nextInt(600));
                break;
            case ACTION:
                event.setInputTokens(50 + random.nextInt(400)).setOutputTokens(200 + random.nextInt(1200));
                break;
            case TASK_OUTCOME:
                boolean success = random.nextDouble() < TASK_SUCCESS[persona];
                event.setSuccess(success);
                outcome = success ? 1 : 2;
                break;
            case FEEDBACK:
                // A failed task drags the next rating down.
                double mean = MEAN_RATING[persona] - (lastOutcome[local] == 2 ? 1.0 : 0.0);
                event.setRating((int) Math.max(1, Math.min(5, Math.round(mean + 0.8 * gaussian()))));
                break;
            default:
                throw new IllegalStateException("unknown event type " + type);
        }
        lastType[local] = (byte) type;
        if (outcome != 0) {
            lastOutcome[local] = (byte) outcome;
        }
        return event.build();
    }

    private int pickUser() {
        double u = random.nextDouble();
        int lo = 0;
        int hi = popularityCdf.length - 1;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (popularityCdf[mid] < u) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    private int sample(double[] probabilities) {
        double u = random.nextDouble();
        for (int i = 0; i < probabilities.length - 1; i++) {
            u -= probabilities[i];
            if (u < 0) {
                return i;
            }
        }
        return probabilities.length - 1;
    }

    private double gaussian() {
        // Box-Muller; SplittableRandom has no nextGaussian on Java 17.
        double u1 = 1.0 - random.nextDouble();
        double u2 = random.nextDouble();
        return Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }

    private static double[] zipfCdf(int n, double exponent) {
        double[] cdf = new double[n];
        double sum = 0;
        for (int k = 0; k < n; k++) {
            sum += 1.0 / Math.pow(k + 1, exponent);
            cdf[k] = sum;
        }
        for (int k = 0; k < n; k++) {
            cdf[k] /= sum;
        }
        cdf[n - 1] = 1.0;
        return cdf;
    }

    /**
     * The numbers of {@link SplittableRandom}{@code (seed)} (SplitMix64, as the JDK computes them; checked against it
     * by the tests), with a state that can be read and set: the seed.
     */
    static final class SplitMix64 {
        private static final long GOLDEN_GAMMA = 0x9e3779b97f4a7c15L;
        long seed;

        SplitMix64(long seed) {
            this.seed = seed;
        }

        long nextLong() {
            long z = seed += GOLDEN_GAMMA;
            z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
            z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
            return z ^ (z >>> 31);
        }

        int nextInt() {
            long z = seed += GOLDEN_GAMMA;
            z = (z ^ (z >>> 33)) * 0x62a9d9ed799705f5L;
            return (int) (((z ^ (z >>> 28)) * 0xcb24d0a5c88c35b3L) >>> 32);
        }

        int nextInt(int bound) {
            int m = bound - 1;
            int r = nextInt();
            if ((bound & m) == 0) {
                return r & m;
            }
            for (int u = r >>> 1; u + m - (r = u % bound) < 0; u = nextInt() >>> 1) {
                // reject over-represented candidates, as the JDK does
            }
            return r;
        }

        double nextDouble() {
            return (nextLong() >>> 11) * 0x1.0p-53;
        }
    }
}
