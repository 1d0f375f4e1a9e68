package dev.flinkai.operators.inference;

import org.apache.flink.api.common.operators.ProcessingTimeService.ProcessingTimeCallback;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;

import java.io.Serializable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Groups consecutive elements into lists of up to {@code maxSize}, on the task thread: a list is emitted when it is
 * full, when its lane's wait has passed since its first element (a processing-time timer), before a checkpoint barrier
 * or watermark passes, and at the end of input. It keeps no state: nothing is buffered when a checkpoint is taken, so
 * exactly-once holds without snapshotting the open lists. {@link BatchingInferenceFunction#batches} adds it to a job.
 *
 * <p>Two lanes, when a {@link Lanes} is given: elements it calls priority ones fill lists of their own, with their own
 * (shorter) wait, so they never wait in a list behind normal ones. Every list holds elements of one lane only.
 * Elements an {@link Alone} picks (control messages) are not batched: each passes at once in a list of its own.
 *
 * <p>Why here and not in the async function: one async call per list instead of per element means one hand-off to
 * the model client and one mailbox completion per model call, which cost more per event than scoring it in a batch.
 *
 * <p>At most one timer is pending per lane: a list that opens while the timer of an earlier one (emitted full) is
 * still pending does not register its own; when that timer fires it re-registers for the open list's deadline. At full
 * speed lists close full long before their deadline, and a timer per list would cost more than the batching saves.
 *
 * <p>An emitted list carries the largest timestamp of its elements, so it is never late for a watermark any of them
 * respected. Elements are held until their list is emitted: the upstream operator must not modify an element after
 * emitting it (true of every function in this project, which is why object reuse is safe).
 */
public class MicroBatchOperator<T> extends AbstractStreamOperator<List<T>> implements OneInputStreamOperator<T, List<T>> {
    private static final long serialVersionUID = 1L;

    /** Which elements are priority ones, and how long their lists wait at most. */
    public record Lanes<T>(Priority<T> priority, Duration maxWait) implements Serializable {}

    /** Decides the lane of an element: true for the priority lane. */
    @FunctionalInterface
    public interface Priority<T> extends Serializable {
        boolean isPriority(T element);
    }

    /** Picks the elements that pass at once, alone in a list. */
    @FunctionalInterface
    public interface Alone<T> extends Serializable {
        boolean passesAlone(T element);
    }

    private final int maxSize;
    private final long maxWaitMillis;
    private final Lanes<T> lanes;
    private final Alone<T> alone;

    private transient Lane normal;
    private transient Lane priority;

    /** One lane: every element goes to the main output. */
    public MicroBatchOperator(int maxSize, Duration maxWait) {
        this(maxSize, maxWait, null, null);
    }

    /**
     * @param lanes null for one lane
     * @param alone null when every element is batched
     */
    public MicroBatchOperator(int maxSize, Duration maxWait, Lanes<T> lanes, Alone<T> alone) {
        if (maxSize < 1) {
            throw new IllegalArgumentException("maxSize must be >= 1, got " + maxSize);
        }
        this.maxSize = maxSize;
        this.maxWaitMillis = waitMillis(maxWait, "maxWait");
        this.lanes = lanes;
        this.alone = alone;
        if (lanes != null) {
            Objects.requireNonNull(lanes.priority(), "lanes.priority");
            waitMillis(lanes.maxWait(), "lanes.maxWait");
        }
    }

    /** Processing-time timers have millisecond resolution: a shorter wait would silently mean none. */
    private static long waitMillis(Duration wait, String what) {
        if (wait.isNegative() || (!wait.isZero() && wait.toMillis() < 1)) {
            throw new IllegalArgumentException(what + " must be 0 or at least 1 ms, got " + wait);
        }
        return wait.toMillis();
    }

    @Override
    public void open() throws Exception {
        super.open();
        normal = new Lane(maxWaitMillis);
        priority = lanes == null ? null : new Lane(lanes.maxWait().toMillis());
    }

    @Override
    public void processElement(StreamRecord<T> element) throws Exception {
        if (alone != null && alone.passesAlone(element.getValue())) {
            output.collect(element.hasTimestamp() ? new StreamRecord<>(List.of(element.getValue()), element.getTimestamp())
                    : new StreamRecord<>(List.of(element.getValue())));
            return;
        }
        Lane lane = priority != null && lanes.priority().isPriority(element.getValue()) ? priority : normal;
        lane.add(element);
    }

    @Override
    public void processWatermark(Watermark mark) throws Exception {
        emitAll();
        super.processWatermark(mark);
    }

    @Override
    public void prepareSnapshotPreBarrier(long checkpointId) throws Exception {
        emitAll();
        super.prepareSnapshotPreBarrier(checkpointId);
    }

    @Override
    public void finish() throws Exception {
        emitAll();
        super.finish();
    }

    private void emitAll() {
        if (priority != null) {
            priority.emit();
        }
        normal.emit();
    }

    /** The open list of one lane, its deadline and its timer. */
    private final class Lane implements ProcessingTimeCallback {
        private final long waitMillis;
        private List<T> filling = new ArrayList<>(maxSize);
        private long deadline;
        private long timestamp;
        private boolean hasTimestamp;
        private boolean timerPending;

        Lane(long waitMillis) {
            this.waitMillis = waitMillis;
        }

        void add(StreamRecord<T> element) {
            if (filling.isEmpty()) {
                hasTimestamp = false;
                timestamp = Long.MIN_VALUE;
                if (maxSize > 1 && waitMillis > 0) {
                    deadline = getProcessingTimeService().getCurrentProcessingTime() + waitMillis;
                    if (!timerPending) { // a pending timer is for an earlier deadline; it re-registers when it fires
                        registerTimer(deadline);
                    }
                }
            }
            filling.add(element.getValue());
            if (element.hasTimestamp()) {
                hasTimestamp = true;
                timestamp = Math.max(timestamp, element.getTimestamp());
            }
            if (filling.size() >= maxSize || waitMillis == 0) {
                emit();
            }
        }

        /** A list's wait is over, or the timer of a list emitted full fired: then it waits on for the open list, if any. */
        @Override
        public void onProcessingTime(long time) {
            timerPending = false;
            if (filling.isEmpty()) {
                return;
            }
            if (time >= deadline) {
                emit();
            } else {
                registerTimer(deadline);
            }
        }

        private void registerTimer(long time) {
            getProcessingTimeService().registerTimer(time, this);
            timerPending = true;
        }

        void emit() {
            if (filling.isEmpty()) {
                return;
            }
            List<T> full = filling;
            filling = new ArrayList<>(maxSize);
            output.collect(hasTimestamp ? new StreamRecord<>(full, timestamp) : new StreamRecord<>(full));
        }
    }
}
