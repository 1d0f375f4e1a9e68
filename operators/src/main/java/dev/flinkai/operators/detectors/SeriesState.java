package dev.flinkai.operators.detectors;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the {@link DetectorFunction} keeps of one feature between windows: the latest windows and the active alerts
 * of the model versions it was served by, at most two (the current one and the one before, the regression baseline),
 * oldest first, and of its unscored events ({@link Observation#UNSCORED}), which are no model version: they take no
 * version's place and are never a baseline.
 */
public final class SeriesState {

    final Map<String, VersionSeries> versions = new LinkedHashMap<>();
    /** The end of the latest window of any version: the expiry timer counts from it. */
    long lastWindowEndMillis = Long.MIN_VALUE;

    /** The model versions, oldest first: the unscored events' series left out. */
    List<VersionSeries> models() {
        return versions.values().stream().filter(v -> !v.version.equals(Observation.UNSCORED)).toList();
    }

    /** The version served before {@code series}, when {@code series} is the newer of two; else null. */
    VersionSeries previousOf(VersionSeries series) {
        List<VersionSeries> models = models();
        return models.size() == 2 && models.get(1) == series ? models.get(0) : null;
    }

    /** The windows (oldest first, a bounded number) and alerts of one model version of the feature. */
    static final class VersionSeries {
        final String version;
        final List<WindowStats> windows = new ArrayList<>();
        final ActiveAlerts alerts = new ActiveAlerts();

        VersionSeries(String version) {
            this.version = version;
        }

        long lastWindowEndMillis() {
            return windows.isEmpty() ? Long.MIN_VALUE : windows.get(windows.size() - 1).windowEndMillis();
        }

        void add(WindowStats window, int keep) {
            windows.add(window);
            while (windows.size() > keep) {
                windows.remove(0);
            }
        }

        /** A window that fired again (allowed lateness): its newer numbers replace the older in place. */
        void replace(WindowStats window) {
            windows.replaceAll(w -> w.windowEndMillis() == window.windowEndMillis() ? window : w);
        }
    }
}
