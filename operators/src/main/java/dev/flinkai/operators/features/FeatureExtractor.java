package dev.flinkai.operators.features;

import dev.flinkai.operators.context.UserContext;
import dev.flinkai.schemas.EventType;
import dev.flinkai.schemas.Tier;
import dev.flinkai.schemas.UserEvent;

import java.util.Arrays;
import java.util.List;

/**
 * The one definition of the model's input: (user context including the current event, current event) -> float[].
 *
 * <p>Serving (the Flink job) and training (the dataset the notebook learns from, written by
 * {@code TrainingDataExport}) both call this class, so what the model sees in production is by construction what it
 * was trained on. Features are plain, bounded numbers; the model normalises them itself.
 *
 * <p>Two blocks: the context's ({@link #CONTEXT_FEATURE_COUNT}), then the profile's. A model takes either the
 * context block alone (version 1, trained before profiles) or both ({@link #LAYOUT}): a model of fewer features
 * reads the first ones of every row, so the blocks only ever grow at the end. Without a profile its block is 0.
 */
public final class FeatureExtractor {

    /** One slot per {@link EventType} symbol in each of the four type blocks below. */
    public static final int EVENT_TYPES = UserContext.EVENT_TYPES;

    // Layout, for readers of the notebook: index -> meaning. With the 4 event types of today, 32 features.
    static final int CURRENT_TYPE = 0; // one-hot
    static final int PREVIOUS_TYPE = EVENT_TYPES; // one-hot, all 0 on a user's first event
    static final int RECENT_TYPE_SHARE = 2 * EVENT_TYPES; // share of each type in the recent window
    static final int LIFETIME_TYPE_SHARE = 3 * EVENT_TYPES; // share of each type over all events
    private static final int SCALARS = 4 * EVENT_TYPES;
    static final int LOG_TOTAL_EVENTS = SCALARS;
    static final int LATENCY_SECONDS = SCALARS + 1;
    static final int RECENT_MEAN_LATENCY_SECONDS = SCALARS + 2;
    static final int LIFETIME_MEAN_LATENCY_SECONDS = SCALARS + 3;
    static final int TASK_SUCCESS_RATE = SCALARS + 4; // smoothed towards 1/2
    static final int LOG_TASKS = SCALARS + 5;
    static final int MEAN_RATING = SCALARS + 6; // 0..1, smoothed towards 3/5
    static final int LOG_RATINGS = SCALARS + 7;
    static final int CURRENT_OUTCOME = SCALARS + 8; // +1 success, -1 failure, 0 none
    static final int CURRENT_RATING = SCALARS + 9; // 0..1, 0 when absent
    static final int LOG_TOKENS = SCALARS + 10;
    static final int LOG_MEAN_TOKENS = SCALARS + 11;
    static final int LOG_SECONDS_SINCE_PREVIOUS = SCALARS + 12;
    static final int LOG_SESSION_EVENTS = SCALARS + 13;
    static final int PRIORITY = SCALARS + 14;
    static final int FEATURES_USED_SHARE = SCALARS + 15;
    /** The features of the context alone: what models before profiles (version 1) take. */
    public static final int CONTEXT_FEATURE_COUNT = SCALARS + 16;
    static final int PROFILE_TIER = CONTEXT_FEATURE_COUNT; // one-hot over Tier, all 0 without a profile
    static final int HAS_PROFILE = PROFILE_TIER + Tier.values().length;
    static final int LOG_DAYS_SINCE_SIGNUP = HAS_PROFILE + 1;
    static final int CURRENT_FEATURE_PREFERRED = HAS_PROFILE + 2; // the event's feature is the profile's preferred one
    public static final int FEATURE_COUNT = HAS_PROFILE + 3;

    /** The features every request carries, and the models that can score them. */
    public static final FeatureLayout LAYOUT = new FeatureLayout(FEATURE_COUNT,
            new int[] {CONTEXT_FEATURE_COUNT, FEATURE_COUNT}, layout());

    private FeatureExtractor() {}

    /** Fills {@code out} (length {@link #FEATURE_COUNT}); {@code context} must already contain {@code event}. */
    public static void extract(UserContext context, UserEvent event, float[] out) {
        Arrays.fill(out, 0f);
        out[CURRENT_TYPE + event.getEventType().ordinal()] = 1f;
        if (context.recentSize() > 1) {
            out[PREVIOUS_TYPE + context.recentType(1)] = 1f;
        }
        int recent = context.recentSize();
        long recentLatency = 0;
        for (int age = 0; age < recent; age++) {
            out[RECENT_TYPE_SHARE + context.recentType(age)] += 1f / recent;
            recentLatency += context.recentLatencyMillis(age);
        }
        long total = Math.max(1, context.totalEvents());
        for (int t = 0; t < EVENT_TYPES; t++) {
            out[LIFETIME_TYPE_SHARE + t] = (float) context.countOfType(t) / total;
        }
        out[LOG_TOTAL_EVENTS] = log1p(context.totalEvents());
        out[LATENCY_SECONDS] = event.getLatencyMillis() / 1000f;
        out[RECENT_MEAN_LATENCY_SECONDS] = recent == 0 ? 0f : recentLatency / 1000f / recent;
        out[LIFETIME_MEAN_LATENCY_SECONDS] = context.latencySumMillis() / 1000f / total;
        int tasks = context.taskSuccesses() + context.taskFailures();
        out[TASK_SUCCESS_RATE] = (context.taskSuccesses() + 1f) / (tasks + 2f);
        out[LOG_TASKS] = log1p(tasks);
        out[MEAN_RATING] = (context.ratingSum() + 3f) / (5f * (context.ratingCount() + 1f));
        out[LOG_RATINGS] = log1p(context.ratingCount());
        out[CURRENT_OUTCOME] = event.getSuccess() == null ? 0f : (event.getSuccess() ? 1f : -1f);
        out[CURRENT_RATING] = event.getRating() == null ? 0f : event.getRating() / 5f;
        out[LOG_TOKENS] = log1p((long) event.getInputTokens() + event.getOutputTokens());
        out[LOG_MEAN_TOKENS] = log1p(context.tokensSum() / total);
        long gapMillis = Math.max(0, context.lastEventMillis() - context.previousEventMillis());
        out[LOG_SECONDS_SINCE_PREVIOUS] = log1p(gapMillis / 1000);
        out[LOG_SESSION_EVENTS] = log1p(context.sessionEvents());
        out[PRIORITY] = Math.min(event.getPriority(), 3) / 3f;
        out[FEATURES_USED_SHARE] = context.featuresUsed() / 8f;
        if (context.hasProfile()) {
            out[PROFILE_TIER + context.tier().ordinal()] = 1f;
            out[HAS_PROFILE] = 1f;
            out[LOG_DAYS_SINCE_SIGNUP] = log1p((event.getEventTimeMillis() - context.signupMillis()) / 86_400_000L);
            out[CURRENT_FEATURE_PREFERRED] = context.prefers(event.getFeature()) ? 1f : 0f;
        }
    }

    /** How {@link #FEATURE_COUNT} comes about, for messages about a model that does not fit. */
    private static String layout() {
        return FEATURE_COUNT + " = context " + CONTEXT_FEATURE_COUNT + " (4 blocks of one slot per EventType symbol ("
                + EVENT_TYPES + ": " + List.of(EventType.values()) + ") + 16) + profile " + (FEATURE_COUNT
                - CONTEXT_FEATURE_COUNT) + " (one slot per Tier symbol + 3); a model takes all or the context's "
                + CONTEXT_FEATURE_COUNT;
    }

    public static float[] extract(UserContext context, UserEvent event) {
        float[] out = new float[FEATURE_COUNT];
        extract(context, event, out);
        return out;
    }

    private static float log1p(long value) {
        return (float) Math.log1p(Math.max(0, value));
    }
}
