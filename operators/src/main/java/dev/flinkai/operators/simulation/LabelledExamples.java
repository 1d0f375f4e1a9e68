package dev.flinkai.operators.simulation;

import dev.flinkai.operators.context.UserContext;
import dev.flinkai.operators.features.FeatureExtractor;
import dev.flinkai.schemas.UserEvent;

import java.util.HashMap;
import java.util.Map;

/**
 * Turns simulated traffic into (features, label) examples the way the job sees it: each event is folded into its
 * user's {@link UserContext}, features come from {@link FeatureExtractor}, and the label is the type of that user's
 * next event. Used for the training set and for checking a trained model on fresh data.
 *
 * <p>Nine in ten users have a profile ({@link UserBehaviourSimulator#profileOf}) from their first event on; the
 * others have none, as users whose profile has not arrived yet, so a model learns both.
 */
public final class LabelledExamples {

    /** Receives one example; {@code features} is owned by the caller only during the call. */
    public interface Sink {
        void accept(float[] features, int nextEventType);
    }

    private LabelledExamples() {}

    /** Whether a simulated user has a profile in the examples: nine in ten, fixed by the id. */
    static boolean hasProfile(String userId) {
        return Math.floorMod(userId.hashCode() * 31 + 7, 10) != 0;
    }

    /** Simulates {@code events} events of {@code users} users and emits an example for each that has a successor. */
    public static void generate(long seed, int users, double zipfExponent, int events, Sink sink) {
        UserBehaviourSimulator simulator = new UserBehaviourSimulator(seed, users, zipfExponent, 0, 1);
        Map<String, UserContext> contexts = new HashMap<>();
        Map<String, float[]> pendingFeatures = new HashMap<>();
        long clock = 1_700_000_000_000L;
        for (int i = 0; i < events; i++) {
            clock += 50; // ~20 events per second of simulated time
            UserEvent event = simulator.next("ev-" + i, clock);
            float[] previous = pendingFeatures.remove(event.getUserId());
            if (previous != null) {
                sink.accept(previous, event.getEventType().ordinal());
            }
            long now = clock;
            UserContext context = contexts.computeIfAbsent(event.getUserId(), id -> {
                UserContext fresh = new UserContext();
                if (hasProfile(id)) {
                    fresh.setProfile(UserBehaviourSimulator.profileOf(id, now));
                }
                return fresh;
            });
            context.add(event);
            pendingFeatures.put(event.getUserId(), FeatureExtractor.extract(context, event));
        }
    }
}
