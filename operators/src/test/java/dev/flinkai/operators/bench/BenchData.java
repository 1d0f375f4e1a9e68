package dev.flinkai.operators.bench;

import dev.flinkai.operators.context.UserContext;
import dev.flinkai.operators.features.FeatureExtractor;
import dev.flinkai.schemas.UserEvent;
import dev.flinkai.operators.simulation.UserBehaviourSimulator;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.Map;

/**
 * Realistic inputs for the benchmarks, generated once per trial in {@code @Setup}: the job's own event simulator
 * (Zipf-skewed users with hidden personas), folded into per-user contexts exactly as {@code UserContextOperator} does.
 */
final class BenchData {

    static final long SEED = 42;
    static final int USERS = 10_000;
    static final double ZIPF = 1.0;
    /** Events streamed before samples are taken, so the popular users' contexts are warm (full ring buffer). */
    static final int WARMUP_EVENTS = 50_000;

    private BenchData() {}

    /** One event with the context of its user right after folding it in, and the features the job would emit. */
    record Sample(UserContext context, UserEvent event, float[] features) {}

    /** {@code n} consecutive events of the simulated stream (many users, event time 250 ms apart). */
    static UserEvent[] events(int n) {
        UserBehaviourSimulator sim = new UserBehaviourSimulator(SEED, USERS, ZIPF, 0, 1);
        UserEvent[] out = new UserEvent[n];
        long t = 1_700_000_000_000L;
        for (int i = 0; i < n; i++) {
            out[i] = sim.next("ev-" + i, t += 250);
        }
        return out;
    }

    /**
     * Streams {@link #WARMUP_EVENTS} events into per-user contexts, then keeps going and records {@code n} samples
     * (context snapshot after the event, the event, its features). With {@code warmOnly} only events of users with at
     * least {@link UserContext#RECENT_CAPACITY} events are sampled.
     */
    static Sample[] samples(int n, boolean warmOnly) {
        UserBehaviourSimulator sim = new UserBehaviourSimulator(SEED, USERS, ZIPF, 0, 1);
        Map<String, UserContext> contexts = new HashMap<>();
        Sample[] out = new Sample[n];
        long t = 1_700_000_000_000L;
        int taken = 0;
        for (long i = 0; taken < n; i++) {
            UserEvent e = sim.next("ev-" + i, t += 250);
            UserContext c = contexts.computeIfAbsent(e.getUserId().toString(), k -> new UserContext());
            c.add(e);
            if (i >= WARMUP_EVENTS && (!warmOnly || c.totalEvents() >= UserContext.RECENT_CAPACITY)) {
                out[taken++] = new Sample(c.copy(), e, FeatureExtractor.extract(c, e));
            }
        }
        return out;
    }

    /** A context that has seen {@code events} events of one simulated user (the most popular one). */
    static UserContext warmContext(int events) {
        UserBehaviourSimulator sim = new UserBehaviourSimulator(SEED, USERS, ZIPF, 0, 1);
        UserContext c = new UserContext();
        String user = null;
        long t = 1_700_000_000_000L;
        for (long i = 0; c.totalEvents() < events; i++) {
            UserEvent e = sim.next("ev-" + i, t += 250);
            if (user == null) {
                user = e.getUserId().toString();
            }
            if (user.equals(e.getUserId().toString())) {
                c.add(e);
            }
        }
        return c;
    }

    /** The committed model, {@code notebooks/model/next_event_mlp.pt}, found from the working directory upwards. */
    static Path committedModel() {
        String relative = "notebooks/model/next_event_mlp.pt";
        Path start = Paths.get(System.getProperty("user.dir")).toAbsolutePath();
        for (Path dir = start; dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve(relative);
            if (Files.isRegularFile(candidate)) {
                return candidate.normalize();
            }
        }
        throw new IllegalStateException(relative + " not found in " + start + " or any parent directory");
    }
}
