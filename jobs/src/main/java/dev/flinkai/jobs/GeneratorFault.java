package dev.flinkai.jobs;

import dev.flinkai.operators.config.Settings;
import dev.flinkai.operators.simulation.UserBehaviourSimulator;
import dev.flinkai.schemas.EventType;
import dev.flinkai.schemas.UserEvent;

import org.apache.flink.configuration.ConfigOption;

import java.io.Serializable;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;

import static org.apache.flink.configuration.ConfigOptions.key;

/**
 * A fault the event generator plays into its traffic, so the monitoring can be shown to notice: for one assistant
 * feature, from a moment after the generator's submission and for a while, its latencies grow (latency-spike), its
 * tasks fail (error-burst) or its events stop (traffic-drop; the other features' events take their place, so the total
 * rate stays). The window is wall-clock time, which is the generated events' event time; it is fixed at submission,
 * so a failover does not move it.
 */
public record GeneratorFault(Kind kind, String feature, long startMillis, long endMillis, double latencyFactor)
        implements Serializable {

    public enum Kind { NONE, LATENCY_SPIKE, ERROR_BURST, TRAFFIC_DROP }

    public static final ConfigOption<String> FAULT = key("fault").stringType().defaultValue("none")
            .withDescription("A fault played into the traffic: none, latency-spike, error-burst or traffic-drop.");
    public static final ConfigOption<String> FEATURE = key("fault.feature").stringType().defaultValue("chat")
            .withDescription("The assistant feature the fault hits.");
    public static final ConfigOption<Duration> START = key("fault.start").durationType()
            .defaultValue(Duration.ofMinutes(5))
            .withDescription("When the fault starts, after the generator's submission.");
    public static final ConfigOption<Duration> DURATION = key("fault.duration").durationType()
            .defaultValue(Duration.ofMinutes(5))
            .withDescription("How long the fault lasts.");
    public static final ConfigOption<Double> LATENCY_FACTOR = key("fault.latency-factor").doubleType()
            .defaultValue(10.0)
            .withDescription("latency-spike: the factor the feature's latencies are multiplied by.");
    static final List<ConfigOption<?>> OPTIONS = List.of(FAULT, FEATURE, START, DURATION, LATENCY_FACTOR);

    /** The configured fault, its window counted from {@code submittedMillis}; bad values fail naming the key. */
    static GeneratorFault from(Settings s, long submittedMillis) {
        String name = s.get(FAULT).trim();
        Kind kind;
        try {
            kind = Kind.valueOf(name.toUpperCase(Locale.ROOT).replace('-', '_'));
        } catch (IllegalArgumentException e) {
            throw Settings.invalid(FAULT, name, "must be one of none, latency-spike, error-burst, traffic-drop");
        }
        String feature = s.get(FEATURE);
        if (!UserBehaviourSimulator.features().contains(feature)) {
            throw Settings.invalid(FEATURE, feature, "must be one of " + UserBehaviourSimulator.features());
        }
        Duration start = s.notNegative(START, s.get(START));
        Duration duration = s.positive(DURATION);
        double factor = s.get(LATENCY_FACTOR);
        if (!(factor > 0 && factor <= 1000)) {
            throw Settings.invalid(LATENCY_FACTOR, factor, "must be above 0 and at most 1000");
        }
        long startMillis = submittedMillis + start.toMillis();
        return new GeneratorFault(kind, feature, startMillis, startMillis + duration.toMillis(), factor);
    }

    /** The next event of the traffic with the fault played in; {@code next} draws an event of the plain traffic. */
    UserEvent next(Supplier<UserEvent> next) {
        UserEvent event = next.get();
        if (kind == Kind.NONE || !hits(event)) {
            return event;
        }
        switch (kind) {
            case LATENCY_SPIKE -> event.setLatencyMillis((int) Math.min(Integer.MAX_VALUE,
                    Math.round(event.getLatencyMillis() * latencyFactor)));
            case ERROR_BURST -> {
                if (event.getEventType() == EventType.TASK_OUTCOME) {
                    event.setSuccess(false);
                }
            }
            case TRAFFIC_DROP -> {
                while (hits(event)) {
                    event = next.get();
                }
            }
            default -> throw new IllegalStateException("unknown fault " + kind);
        }
        return event;
    }

    private boolean hits(UserEvent event) {
        long t = event.getEventTimeMillis();
        return t >= startMillis && t < endMillis && feature.equals(event.getFeature());
    }
}
