package dev.flinkai.operators.context;

import dev.flinkai.operators.features.FeatureExtractor;
import dev.flinkai.operators.inference.ScoringRequest;
import dev.flinkai.operators.ingest.ReceivedRecord;
import dev.flinkai.schemas.UserEvent;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

import java.time.Duration;

/**
 * Keyed by user: folds each event into the user's {@link UserContext} and emits the event's features for scoring.
 *
 * <p>The context expires {@code ttl} after the user's last event (state TTL, cleaned incrementally on the heap
 * backend and by the compaction filter in RocksDB), so inactive users do not accumulate forever.
 */
public class UserContextFunction extends KeyedProcessFunction<String, ReceivedRecord, ScoringRequest> {

    public static final String STATE_NAME = "user-context";

    private final Duration ttl;
    private transient ValueState<UserContext> contextState;
    private transient Counter newUsers;

    public UserContextFunction(Duration ttl) {
        this.ttl = ttl;
    }

    public static ValueStateDescriptor<UserContext> stateDescriptor(Duration ttl) {
        ValueStateDescriptor<UserContext> descriptor = new ValueStateDescriptor<>(STATE_NAME, UserContextSerializer.INSTANCE);
        descriptor.enableTimeToLive(StateTtlConfig.newBuilder(ttl)
                .setUpdateType(StateTtlConfig.UpdateType.OnCreateAndWrite)
                .setStateVisibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
                .cleanupIncrementally(10, false)
                .cleanupInRocksdbCompactFilter(1000)
                .build());
        return descriptor;
    }

    @Override
    public void open(OpenContext openContext) {
        contextState = getRuntimeContext().getState(stateDescriptor(ttl));
        newUsers = getRuntimeContext().getMetricGroup().counter("newUserContexts");
    }

    @Override
    public void processElement(ReceivedRecord record, Context ctx, Collector<ScoringRequest> out) throws Exception {
        UserEvent event = record.event;
        UserContext context = contextState.value();
        if (context == null) {
            context = new UserContext();
            newUsers.inc();
        }
        context.add(event);
        contextState.update(context);
        out.collect(new ScoringRequest(event.getEventId(), event.getUserId(), event.getPriority(),
                event.getEventTimeMillis(), record.ingestTimeMillis, FeatureExtractor.extract(context, event)));
    }
}
