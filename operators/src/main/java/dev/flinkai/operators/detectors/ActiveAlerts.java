package dev.flinkai.operators.detectors;

import dev.flinkai.schemas.Alert;
import dev.flinkai.schemas.AlertKind;
import dev.flinkai.schemas.AlertSeverity;
import dev.flinkai.schemas.AlertState;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The conditions of one series that are firing or not yet clear long enough to resolve: the {@link AlertTracker}'s
 * state, kept in the keyed state between windows. An episode's records share an id derived from the condition and
 * its first window, so a replay after a restore (at-least-once) produces the same ids and consumers can drop the
 * duplicates.
 */
public final class ActiveAlerts {

    /** By {@link Finding#conditionId()}; a condition leaves when it resolves. */
    final Map<String, Condition> byCondition = new LinkedHashMap<>();

    /** Resolves every condition at once: its series is gone (stopped reporting, version replaced). */
    public List<Alert> resolveAll(String reason) {
        List<Alert> records = new ArrayList<>();
        for (Condition condition : byCondition.values()) {
            records.add(condition.record(AlertState.RESOLVED, reason + "; was: " + condition.message));
        }
        byCondition.clear();
        return records;
    }

    public boolean isEmpty() {
        return byCondition.isEmpty();
    }

    /** One active condition: what the next records of its episode are made of. */
    static final class Condition {
        AlertKind kind;
        String key;
        String metric;
        AlertSeverity severity;
        int firingStreak;
        int clearStreak;
        long firstSeenMillis;
        long lastSeenMillis;
        double value;
        double reference;
        String message;

        /** For the serializer, which sets every field. */
        Condition() {
        }

        Condition(Finding first, long windowEndMillis) {
            kind = first.kind();
            key = first.key();
            metric = first.metric();
            severity = AlertSeverity.WARNING;
            firstSeenMillis = windowEndMillis;
            update(first, windowEndMillis);
        }

        void update(Finding finding, long windowEndMillis) {
            firingStreak++;
            clearStreak = 0;
            lastSeenMillis = windowEndMillis;
            value = finding.value();
            reference = finding.reference();
            message = finding.message();
        }

        String conditionId() {
            return Finding.conditionId(kind, key);
        }

        Alert record(AlertState state, String text) {
            String episode = conditionId() + "@" + firstSeenMillis;
            return Alert.newBuilder()
                    .setId(UUID.nameUUIDFromBytes(episode.getBytes(StandardCharsets.UTF_8)).toString())
                    .setKind(kind).setKey(key).setMetric(metric).setSeverity(severity).setValue(value)
                    .setThreshold(Double.isNaN(reference) ? null : reference)
                    .setFirstSeenMillis(firstSeenMillis).setLastSeenMillis(lastSeenMillis)
                    .setState(state).setMessage(text).build();
        }
    }
}
