package dev.flinkai.operators.context;

import dev.flinkai.schemas.EventType;
import dev.flinkai.schemas.Tier;
import dev.flinkai.schemas.UserEvent;
import dev.flinkai.schemas.UserProfile;

import java.util.Arrays;
import java.util.List;

/**
 * What the job remembers about one user: the last {@link #RECENT_CAPACITY} events, running aggregates over all of
 * them, and what the features use of the user's latest {@link UserProfile} (tier, signup time, preferred feature). Kept small on purpose (about 100 bytes serialized, see {@link UserContextSerializer}) so that millions of users
 * fit in one TaskManager's RocksDB.
 *
 * <p>The window size is part of the model's contract: the features are computed over it, so changing it means
 * retraining. The number of event types comes from the {@link EventType} schema; a recent event packs its type into
 * {@link #TYPE_BITS} bits, so up to 8 types fit and a schema with more fails here, when the class loads.
 */
public final class UserContext {

    public static final int RECENT_CAPACITY = 16;
    /** The symbols of the {@link EventType} schema: one count per type, one slot per type in each type feature. */
    public static final int EVENT_TYPES = EventType.values().length;
    static final int TYPE_BITS = 3;

    static {
        if (EVENT_TYPES > 1 << TYPE_BITS) {
            throw new IllegalStateException("EventType has " + EVENT_TYPES + " symbols " + List.of(EventType.values())
                    + " but UserContext packs an event type into " + TYPE_BITS + " bits (at most " + (1 << TYPE_BITS)
                    + " types): widen the packing in UserContext and UserContextSerializer (a new format version)");
        }
    }

    // Recent events, a ring buffer. Each entry packs type, task outcome and rating into one byte (see pack()).
    final byte[] recentPacked = new byte[RECENT_CAPACITY];
    final int[] recentLatencyMillis = new int[RECENT_CAPACITY];
    int recentSize;
    int recentNext; // index the next event is written to

    long totalEvents;
    final long[] countByType = new long[EVENT_TYPES];
    long latencySumMillis;
    long tokensSum;
    int taskSuccesses;
    int taskFailures;
    int ratingSum;
    int ratingCount;
    long firstEventMillis;
    long lastEventMillis;
    long previousEventMillis;
    int sessionHash;
    int sessionEvents;
    int featuresUsedMask;
    /** 0: no profile yet; else the profile's {@link Tier} ordinal + 1. */
    byte profileTier;
    long signupMillis;
    /** The hash of the profile's preferred feature; 0 for none. */
    int preferredFeatureHash;

    /** The profile key naming the feature a user prefers. */
    public static final String PREFERRED_FEATURE = "preferred_feature";

    /** Takes what the features use of {@code profile}; a later profile replaces an earlier one. */
    public void setProfile(UserProfile profile) {
        profileTier = (byte) (profile.getTier().ordinal() + 1);
        signupMillis = profile.getSignupTimeMillis();
        CharSequence preferred = profile.getPreferences() == null ? null : profile.getPreferences().get(PREFERRED_FEATURE);
        preferredFeatureHash = preferred == null ? 0 : featureHash(preferred.toString());
    }

    /** Folds one event into the context. Events are taken in arrival order; a late event does not move time back. */
    public void add(UserEvent event) {
        int type = event.getEventType().ordinal();
        long time = event.getEventTimeMillis();
        if (totalEvents == 0) {
            firstEventMillis = time;
            previousEventMillis = time;
        } else {
            previousEventMillis = lastEventMillis;
        }
        lastEventMillis = Math.max(lastEventMillis, time);

        int outcome = event.getSuccess() == null ? OUTCOME_NONE : (event.getSuccess() ? OUTCOME_SUCCESS : OUTCOME_FAILURE);
        int rating = event.getRating() == null ? 0 : event.getRating();
        recentPacked[recentNext] = pack(type, outcome, rating);
        recentLatencyMillis[recentNext] = event.getLatencyMillis();
        recentNext = (recentNext + 1) % RECENT_CAPACITY;
        recentSize = Math.min(recentSize + 1, RECENT_CAPACITY);

        totalEvents++;
        countByType[type]++;
        latencySumMillis += event.getLatencyMillis();
        tokensSum += (long) event.getInputTokens() + event.getOutputTokens();
        if (outcome == OUTCOME_SUCCESS) {
            taskSuccesses++;
        } else if (outcome == OUTCOME_FAILURE) {
            taskFailures++;
        }
        if (rating > 0) {
            ratingSum += rating;
            ratingCount++;
        }
        int session = event.getSessionId().hashCode();
        if (session != sessionHash || totalEvents == 1) {
            sessionHash = session;
            sessionEvents = 0;
        }
        sessionEvents++;
        if (event.getFeature() != null) {
            featuresUsedMask |= 1 << Math.floorMod(event.getFeature().hashCode(), 31);
        }
    }

    // ---- read access for feature extraction and tests ----

    public int recentSize() {
        return recentSize;
    }

    /** Type ordinal of the i-th most recent event (0 = the latest). */
    public int recentType(int age) {
        return unpackType(recentPacked[slot(age)]);
    }

    public int recentLatencyMillis(int age) {
        return recentLatencyMillis[slot(age)];
    }

    public int recentOutcome(int age) {
        return (recentPacked[slot(age)] >> TYPE_BITS) & 0b11;
    }

    public int recentRating(int age) {
        return (recentPacked[slot(age)] >> (TYPE_BITS + 2)) & 0b111;
    }

    public long totalEvents() {
        return totalEvents;
    }

    public long countOfType(int type) {
        return countByType[type];
    }

    public long latencySumMillis() {
        return latencySumMillis;
    }

    public long tokensSum() {
        return tokensSum;
    }

    public int taskSuccesses() {
        return taskSuccesses;
    }

    public int taskFailures() {
        return taskFailures;
    }

    public int ratingSum() {
        return ratingSum;
    }

    public int ratingCount() {
        return ratingCount;
    }

    public long firstEventMillis() {
        return firstEventMillis;
    }

    public long lastEventMillis() {
        return lastEventMillis;
    }

    public long previousEventMillis() {
        return previousEventMillis;
    }

    public int sessionEvents() {
        return sessionEvents;
    }

    public int featuresUsed() {
        return Integer.bitCount(featuresUsedMask);
    }

    public boolean hasProfile() {
        return profileTier != 0;
    }

    /** The profile's tier; null without a profile. */
    public Tier tier() {
        return profileTier == 0 ? null : Tier.values()[profileTier - 1];
    }

    public long signupMillis() {
        return signupMillis;
    }

    /** Whether {@code feature} is the one the user's profile prefers. */
    public boolean prefers(String feature) {
        return preferredFeatureHash != 0 && feature != null && featureHash(feature) == preferredFeatureHash;
    }

    private static int featureHash(String feature) {
        int h = feature.hashCode();
        return h == 0 ? 1 : h;
    }

    public UserContext copy() {
        return new UserContext().copyFrom(this);
    }

    /** Makes this context equal to {@code other}, reusing this context's arrays; returns this. */
    public UserContext copyFrom(UserContext other) {
        System.arraycopy(other.recentPacked, 0, recentPacked, 0, RECENT_CAPACITY);
        System.arraycopy(other.recentLatencyMillis, 0, recentLatencyMillis, 0, RECENT_CAPACITY);
        recentSize = other.recentSize;
        recentNext = other.recentNext;
        totalEvents = other.totalEvents;
        System.arraycopy(other.countByType, 0, countByType, 0, EVENT_TYPES);
        latencySumMillis = other.latencySumMillis;
        tokensSum = other.tokensSum;
        taskSuccesses = other.taskSuccesses;
        taskFailures = other.taskFailures;
        ratingSum = other.ratingSum;
        ratingCount = other.ratingCount;
        firstEventMillis = other.firstEventMillis;
        lastEventMillis = other.lastEventMillis;
        previousEventMillis = other.previousEventMillis;
        sessionHash = other.sessionHash;
        sessionEvents = other.sessionEvents;
        featuresUsedMask = other.featuresUsedMask;
        profileTier = other.profileTier;
        signupMillis = other.signupMillis;
        preferredFeatureHash = other.preferredFeatureHash;
        return this;
    }

    public static final int OUTCOME_NONE = 0;
    public static final int OUTCOME_SUCCESS = 1;
    public static final int OUTCOME_FAILURE = 2;

    private int slot(int age) {
        if (age < 0 || age >= recentSize) {
            throw new IndexOutOfBoundsException("age " + age + " of " + recentSize + " recent events");
        }
        return Math.floorMod(recentNext - 1 - age, RECENT_CAPACITY);
    }

    /** One byte per recent event: type (bits 0-2), task outcome (bits 3-4), rating 0..5 (bits 5-7). */
    static byte pack(int type, int outcome, int rating) {
        return (byte) (type | outcome << TYPE_BITS | Math.min(rating, 7) << (TYPE_BITS + 2));
    }

    private static int unpackType(byte packed) {
        return packed & ((1 << TYPE_BITS) - 1);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof UserContext)) {
            return false;
        }
        UserContext c = (UserContext) o;
        if (recentSize != c.recentSize) {
            return false;
        }
        for (int age = 0; age < recentSize; age++) {
            if (recentPacked[slot(age)] != c.recentPacked[c.slot(age)]
                    || recentLatencyMillis[slot(age)] != c.recentLatencyMillis[c.slot(age)]) {
                return false;
            }
        }
        return totalEvents == c.totalEvents
                && Arrays.equals(countByType, c.countByType)
                && latencySumMillis == c.latencySumMillis
                && tokensSum == c.tokensSum
                && taskSuccesses == c.taskSuccesses
                && taskFailures == c.taskFailures
                && ratingSum == c.ratingSum
                && ratingCount == c.ratingCount
                && firstEventMillis == c.firstEventMillis
                && lastEventMillis == c.lastEventMillis
                && previousEventMillis == c.previousEventMillis
                && sessionHash == c.sessionHash
                && sessionEvents == c.sessionEvents
                && featuresUsedMask == c.featuresUsedMask
                && profileTier == c.profileTier
                && signupMillis == c.signupMillis
                && preferredFeatureHash == c.preferredFeatureHash;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(totalEvents) * 31 + Long.hashCode(lastEventMillis);
    }

    @Override
    public String toString() {
        return "UserContext{events=" + totalEvents + ", recent=" + recentSize + ", byType=" + Arrays.toString(countByType)
                + (hasProfile() ? ", tier=" + tier() : "") + "}";
    }
}
