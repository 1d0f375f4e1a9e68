package dev.flinkai.operators.detectors;

import dev.flinkai.schemas.Alert;
import dev.flinkai.schemas.AlertSeverity;
import dev.flinkai.schemas.AlertState;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * Turns the detectors' findings, window after window, into the alerts people get: a FIRING WARNING when a condition
 * first holds, a FIRING CRITICAL once it has held {@code criticalAfter} windows in a row, a RESOLVED when it has been
 * clear {@code resolveAfter} windows in a row, and nothing in between: one record per condition and severity per
 * episode, however long it lasts, so a pager is not flooded every minute.
 *
 * <p>The policy only: the conditions of a series live in its {@link ActiveAlerts}, which the keyed state holds.
 */
public final class AlertTracker implements Serializable {
    private static final long serialVersionUID = 1L;

    private final int criticalAfter;
    private final int resolveAfter;

    /**
     * @param criticalAfter consecutive firing windows before CRITICAL (at least 2: the first one is the WARNING)
     * @param resolveAfter  consecutive clear windows before RESOLVED (at least 1)
     */
    public AlertTracker(int criticalAfter, int resolveAfter) {
        if (criticalAfter < 2 || resolveAfter < 1) {
            throw new IllegalArgumentException("criticalAfter must be at least 2 and resolveAfter at least 1, were "
                    + criticalAfter + " and " + resolveAfter);
        }
        this.criticalAfter = criticalAfter;
        this.resolveAfter = resolveAfter;
    }

    /**
     * One window of one series: every active condition not among the findings counts as clear in it.
     *
     * @return the alert records to send, in order
     */
    public List<Alert> step(ActiveAlerts alerts, long windowEndMillis, Collection<Finding> findings) {
        List<Alert> records = new ArrayList<>();
        Set<String> firing = new HashSet<>();
        for (Finding finding : findings) {
            String id = finding.conditionId();
            firing.add(id);
            ActiveAlerts.Condition condition = alerts.byCondition.get(id);
            if (condition == null) {
                condition = new ActiveAlerts.Condition(finding, windowEndMillis);
                alerts.byCondition.put(id, condition);
                records.add(condition.record(AlertState.FIRING, finding.message()));
                continue;
            }
            condition.update(finding, windowEndMillis);
            if (condition.severity == AlertSeverity.WARNING && condition.firingStreak >= criticalAfter) {
                condition.severity = AlertSeverity.CRITICAL;
                records.add(condition.record(AlertState.FIRING, finding.message()
                        + " (for " + condition.firingStreak + " windows)"));
            }
        }
        for (Iterator<ActiveAlerts.Condition> it = alerts.byCondition.values().iterator(); it.hasNext(); ) {
            ActiveAlerts.Condition condition = it.next();
            if (firing.contains(condition.conditionId())) {
                continue;
            }
            condition.firingStreak = 0;
            condition.clearStreak++;
            if (condition.clearStreak >= resolveAfter) {
                it.remove();
                records.add(condition.record(AlertState.RESOLVED, "clear for " + condition.clearStreak
                        + " window(s) up to " + windowEndMillis + "; was: " + condition.message));
            }
        }
        return records;
    }
}
