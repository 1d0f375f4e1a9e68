package dev.flinkai.udfs.context;

import dev.flinkai.operators.context.UserContext;
import dev.flinkai.operators.context.UserContextSerializer;
import dev.flinkai.operators.features.FeatureExtractor;
import dev.flinkai.schemas.EventType;
import dev.flinkai.schemas.UserEvent;

import org.apache.flink.table.annotation.ArgumentHint;
import org.apache.flink.table.annotation.ArgumentTrait;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.annotation.FunctionHint;
import org.apache.flink.table.annotation.StateHint;
import org.apache.flink.table.functions.ProcessTableFunction;
import org.apache.flink.types.Row;

/**
 * The per-user context of the DataStream job in SQL, so that SQL users get the features the model was trained on:
 * partitioned by user, each event is folded into the user's {@link UserContext} (kept with the job's own
 * {@link UserContextSerializer}) and the event's {@link FeatureExtractor} vector is emitted, extracted after the
 * event was added, as {@code UserContextOperator} does. There are no profiles here, so the profile block is 0, as for
 * a user whose profile has not arrived in the DataStream job.
 *
 * <p>The input needs the columns of a {@code UserEvent} by name (a table in the {@code flinkai-avro} format over
 * the events topic has them). The context expires after {@code table.exec.state.ttl} without an event of the user
 * (processing time, refreshed on every write, as the job's {@code state.ttl}); set it to the job's value (7 d).
 *
 * <pre>
 * CREATE FUNCTION USER_CONTEXT AS 'dev.flinkai.udfs.context.UserContextFunction';
 * SELECT userId, eventId, features FROM USER_CONTEXT(input => TABLE events PARTITION BY userId, uid => 'user-context');
 * </pre>
 */
@FunctionHint(output = @DataTypeHint("ROW<eventId STRING, features ARRAY<FLOAT>>"))
public class UserContextFunction extends ProcessTableFunction<Row> {
    private static final long serialVersionUID = 1L;

    /** The state entry: the user's context, serialized as the DataStream job serializes it. */
    public static class ContextState {
        @DataTypeHint(value = "RAW", bridgedTo = UserContext.class, rawSerializer = UserContextSerializer.class)
        public UserContext context;
    }

    public void eval(@StateHint(name = "userContext") ContextState state,
                     @ArgumentHint(value = ArgumentTrait.SET_SEMANTIC_TABLE, name = "input") Row input) {
        UserEvent event = toEvent(input);
        if (state.context == null) {
            state.context = new UserContext();
        }
        state.context.add(event);
        float[] features = FeatureExtractor.extract(state.context, event);
        Float[] boxed = new Float[features.length];
        for (int i = 0; i < features.length; i++) {
            boxed[i] = features[i];
        }
        collect(Row.of(event.getEventId(), boxed));
    }

    /** The columns the context and the features read, by name; the others are not needed. */
    static UserEvent toEvent(Row row) {
        UserEvent e = new UserEvent();
        e.setEventId(row.getFieldAs("eventId"));
        e.setUserId(row.getFieldAs("userId"));
        e.setSessionId(row.getFieldAs("sessionId"));
        e.setEventType(EventType.valueOf(row.getFieldAs("eventType")));
        e.setEventTimeMillis(row.<Long>getFieldAs("eventTimeMillis"));
        e.setPriority(row.<Integer>getFieldAs("priority"));
        e.setFeature(row.getFieldAs("feature"));
        e.setLatencyMillis(row.<Integer>getFieldAs("latencyMillis"));
        e.setInputTokens(row.<Integer>getFieldAs("inputTokens"));
        e.setOutputTokens(row.<Integer>getFieldAs("outputTokens"));
        e.setSuccess(row.getFieldAs("success"));
        e.setRating(row.getFieldAs("rating"));
        return e;
    }
}
