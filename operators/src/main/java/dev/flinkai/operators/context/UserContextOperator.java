package dev.flinkai.operators.context;

import dev.flinkai.operators.features.FeatureExtractor;
import dev.flinkai.operators.features.ScoringRequest;
import dev.flinkai.operators.ingest.ReceivedRecord;
import dev.flinkai.schemas.UserEvent;

import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.operators.TwoInputStreamOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;

import java.time.Duration;

/**
 * Keyed by user: folds each event into the user's {@link UserContext} and emits the event's features for scoring. A
 * user's profile (same input, same key) goes into the context too and applies to the user's events from then on.
 *
 * <p>A second, broadcast input (when the job has one) carries model updates: each is passed on as a control request
 * ({@link ScoringRequest#control}) on the same path as the events, so the chained inference operator of every subtask
 * gets it. The second input holds no state and has no say in event time: its watermarks are ignored.
 *
 * <p>The context expires {@code ttl} after the user's last event (state TTL, cleaned incrementally on the heap
 * backend and by the compaction filter in RocksDB), so inactive users do not accumulate forever.
 *
 * <p>With {@code cachedUsers > 0} the contexts of that many recently active users stay on the heap and are written
 * to the keyed state when evicted and before every checkpoint barrier ({@link RecentContexts}). Under a skewed user
 * popularity most events then touch RocksDB not at all; the price is a burst of writes on the task thread at each
 * checkpoint, up to {@code cachedUsers} of them. Only for a state backend that serializes on write (RocksDB): on the
 * heap backend the state would share the cached objects, and the operator turns the cache off.
 *
 * <p>An operator rather than a {@code KeyedProcessFunction} because writing an evicted user's context means
 * switching the current key, which a function cannot do.
 */
public class UserContextOperator extends AbstractStreamOperator<ScoringRequest>
        implements OneInputStreamOperator<ReceivedRecord, ScoringRequest>,
        TwoInputStreamOperator<ReceivedRecord, ReceivedRecord, ScoringRequest> {
    private static final long serialVersionUID = 1L;

    public static final String STATE_NAME = "user-context";

    private final Duration ttl;
    private final int cachedUsers;

    private transient ValueState<UserContext> contextState;
    private transient RecentContexts recentContexts;
    private transient RecentContexts.StateWriter writeEvicted;
    private transient RecentContexts.StateWriter writeAny;
    private transient boolean backendChecked;
    private transient Counter newUsers;
    private transient Counter cacheHits;
    /** How long the last write-back before a barrier held up the task thread: the cache's price in latency. */
    private transient volatile long lastBarrierWriteBackMillis;

    /** @param cachedUsers how many recently active users' contexts to keep on the heap; 0 for none */
    public UserContextOperator(Duration ttl, int cachedUsers) {
        if (cachedUsers < 0) {
            throw new IllegalArgumentException("cachedUsers must not be negative, was " + cachedUsers);
        }
        this.ttl = ttl;
        this.cachedUsers = cachedUsers;
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
    public void open() throws Exception {
        super.open();
        contextState = getRuntimeContext().getState(stateDescriptor(ttl));
        newUsers = getMetricGroup().counter("newUserContexts");
        cacheHits = getMetricGroup().counter("userContextCacheHits");
        getMetricGroup().<Long, Gauge<Long>>gauge("userContextBarrierWriteBackMillis", () -> lastBarrierWriteBackMillis);
        if (cachedUsers > 0) {
            recentContexts = new RecentContexts(cachedUsers, ttl.toMillis());
            writeEvicted = this::writeOtherUser;
            writeAny = (user, context) -> {
                setCurrentKey(user);
                contextState.update(context);
            };
        }
    }

    @Override
    public void processElement1(StreamRecord<ReceivedRecord> element) throws Exception {
        processElement(element);
    }

    @Override
    public void processElement(StreamRecord<ReceivedRecord> element) throws Exception {
        ReceivedRecord record = element.getValue();
        if (record.profile != null) {
            UserContext context = contextForUpdate();
            context.setProfile(record.profile);
            if (recentContexts == null) {
                contextState.update(context);
            }
            return;
        }
        UserEvent event = record.event;
        UserContext context = contextForUpdate();
        context.add(event);
        if (recentContexts == null) {
            contextState.update(context);
        }
        output.collect(element.replace(new ScoringRequest(event.getEventId(), event.getUserId(), event.getPriority(),
                event.getEventTimeMillis(), record.ingestTimeMillis, FeatureExtractor.extract(context, event),
                context.totalEvents())));
    }

    /** A model update: on to the scoring operator, which fetches, checks and switches. */
    @Override
    public void processElement2(StreamRecord<ReceivedRecord> element) {
        if (element.getValue().modelUpdate != null) {
            output.collect(new StreamRecord<>(ScoringRequest.control(element.getValue().modelUpdate)));
        }
    }

    /** Event time comes from the keyed input alone. */
    @Override
    public void processWatermark1(Watermark mark) throws Exception {
        processWatermark(mark);
    }

    @Override
    public void processWatermark2(Watermark mark) {
    }

    /**
     * The current user's context, to be changed: from the heap cache, the state or new. Without the cache the caller
     * writes it back to the state.
     */
    private UserContext contextForUpdate() throws Exception {
        if (recentContexts == null) {
            return storedOrNew();
        }
        String user = (String) getCurrentKey();
        long now = currentTimeMillis();
        UserContext context = recentContexts.getForUpdate(user, now);
        if (context != null) {
            cacheHits.inc();
        } else {
            context = recentContexts.admit(user, storedOrNew(), now, writeEvicted);
        }
        if (!backendChecked) {
            backendChecked = true;
            turnCacheOffIfStateHoldsObjects(context);
        }
        return context;
    }

    /** The keyed state must hold every update when the barrier passes: the snapshot is taken right after. */
    @Override
    public void prepareSnapshotPreBarrier(long checkpointId) throws Exception {
        super.prepareSnapshotPreBarrier(checkpointId);
        long start = System.nanoTime();
        writeBackCache();
        lastBarrierWriteBackMillis = (System.nanoTime() - start) / 1_000_000;
    }

    @Override
    public void finish() throws Exception {
        writeBackCache();
        super.finish();
    }

    /** The clock of the state TTL (processing time, as Flink's TTL uses); tests align it with their TTL clock. */
    protected long currentTimeMillis() {
        return System.currentTimeMillis();
    }

    private void writeBackCache() throws Exception {
        if (recentContexts != null && recentContexts.size() > 0) {
            Object currentKey = getCurrentKey();
            recentContexts.writeBackAll(currentTimeMillis(), writeAny);
            setCurrentKey(currentKey);
        }
    }

    private UserContext storedOrNew() throws Exception {
        UserContext stored = contextState.value();
        if (stored == null) {
            newUsers.inc();
            return new UserContext();
        }
        return stored;
    }

    /** Writes another user's context and comes back to the current key. */
    private void writeOtherUser(String user, UserContext context) throws Exception {
        Object currentKey = getCurrentKey();
        setCurrentKey(user);
        contextState.update(context);
        setCurrentKey(currentKey);
    }

    /**
     * A heap state backend keeps the written object itself rather than a serialized copy: the cache would save
     * nothing there, and reusing an evicted user's context object would change that user's state.
     */
    private void turnCacheOffIfStateHoldsObjects(UserContext justUpdated) throws Exception {
        contextState.update(justUpdated);
        if (contextState.value() == justUpdated) {
            LOG.info("The state backend keeps user contexts as objects: turning the cache of {} users off", cachedUsers);
            recentContexts = null;
        }
    }
}
