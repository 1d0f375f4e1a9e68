package dev.flinkai.operators.ingest;

import dev.flinkai.schemas.EventType;
import dev.flinkai.schemas.UserEvent;

/** The rules a decoded event must meet before it may change a user's context. */
public final class UserEventValidator {

    private UserEventValidator() {}

    /** @return null when the event is usable, otherwise the reason it is not */
    public static String problem(UserEvent e) {
        if (isBlank(e.getEventId())) {
            return "eventId is empty";
        }
        if (isBlank(e.getUserId())) {
            return "userId is empty";
        }
        if (isBlank(e.getSessionId())) {
            return "sessionId is empty";
        }
        if (e.getEventTimeMillis() <= 0) {
            return "eventTimeMillis must be positive, was " + e.getEventTimeMillis();
        }
        if (e.getLatencyMillis() < 0 || e.getInputTokens() < 0 || e.getOutputTokens() < 0) {
            return "latencyMillis and token counts must not be negative";
        }
        if (e.getPriority() < 0) {
            return "priority must not be negative, was " + e.getPriority();
        }
        if (e.getRating() != null && (e.getRating() < 1 || e.getRating() > 5)) {
            return "rating must be 1..5, was " + e.getRating();
        }
        if (e.getEventType() == EventType.TASK_OUTCOME && e.getSuccess() == null) {
            return "TASK_OUTCOME without success flag";
        }
        return null;
    }

    private static boolean isBlank(CharSequence s) {
        return s == null || s.toString().isBlank();
    }
}
