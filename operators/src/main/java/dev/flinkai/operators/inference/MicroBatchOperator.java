package dev.flinkai.operators.inference;

import org.apache.flink.api.common.operators.ProcessingTimeService.ProcessingTimeCallback;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Groups consecutive elements into lists of up to {@code maxSize}, on the task thread: a list is emitted when it is
 * full, when {@code maxWait} has passed since its first element (a processing-time timer), before a checkpoint barrier
 * or watermark passes, and at the end of input. It keeps no state: nothing is buffered when a checkpoint is taken, so
 * exactly-once holds without snapshotting the open list. {@link BatchingInferenceFunction#batches} adds it to a job.
 *
 * <p>Why here and not in the async function: one async call per list instead of per element means one queue hand-off
 * to a worker thread and one mailbox completion per model call, which in the job's profile cost more per event than
 * scoring the event in a batch.
 *
 * <p>At most one timer is pending: a list that opens while the timer of an earlier one (emitted full) is still pending
 * does not register its own; when that timer fires it re-registers for the open list's deadline. At full speed lists
 * close full long before their deadline, and a timer per list (thousands per second, each a wake-up of the timer
 * thread and a mailbox action) would cost more than the batching saves.
 *
 * <p>An emitted list carries the largest timestamp of its elements, so it is never late for a watermark any of them
 * respected. Elements are held until their list is emitted: the upstream operator must not modify an element after
 * emitting it (true of every function in this project, which is why object reuse is safe).
 */
public class MicroBatchOperator<T> extends AbstractStreamOperator<List<T>>
        implements OneInputStreamOperator<T, List<T>>, ProcessingTimeCallback {
    private static final long serialVersionUID = 1L;

    private final int maxSize;
    private final long maxWaitMillis;

    private transient List<T> filling;
    private transient long fillingDeadline;
    private transient long fillingTimestamp;
    private transient boolean fillingHasTimestamp;
    private transient boolean timerPending;

    public MicroBatchOperator(int maxSize, Duration maxWait) {
        if (maxSize < 1) {
            throw new IllegalArgumentException("maxSize must be >= 1, got " + maxSize);
        }
        if (maxWait.isNegative() || (!maxWait.isZero() && maxWait.toMillis() < 1)) {
            // Processing-time timers have millisecond resolution: a shorter wait would silently mean none.
            throw new IllegalArgumentException("maxWait must be 0 or at least 1 ms, got " + maxWait);
        }
        this.maxSize = maxSize;
        this.maxWaitMillis = maxWait.toMillis();
    }

    @Override
    public void open() throws Exception {
        super.open();
        filling = new ArrayList<>(maxSize);
    }

    @Override
    public void processElement(StreamRecord<T> element) throws Exception {
        if (filling.isEmpty()) {
            fillingHasTimestamp = false;
            fillingTimestamp = Long.MIN_VALUE;
            if (maxSize > 1 && maxWaitMillis > 0) {
                fillingDeadline = getProcessingTimeService().getCurrentProcessingTime() + maxWaitMillis;
                if (!timerPending) { // a pending timer is for an earlier deadline; it re-registers when it fires
                    registerTimer(fillingDeadline);
                }
            }
        }
        filling.add(element.getValue());
        if (element.hasTimestamp()) {
            fillingHasTimestamp = true;
            fillingTimestamp = Math.max(fillingTimestamp, element.getTimestamp());
        }
        if (filling.size() >= maxSize || maxWaitMillis == 0) {
            emit();
        }
    }

    /** A list's wait is over, or the timer of a list emitted full fired: then it waits on for the open list, if any. */
    @Override
    public void onProcessingTime(long time) throws Exception {
        timerPending = false;
        if (filling.isEmpty()) {
            return;
        }
        if (time >= fillingDeadline) {
            emit();
        } else {
            registerTimer(fillingDeadline);
        }
    }

    private void registerTimer(long time) {
        getProcessingTimeService().registerTimer(time, this);
        timerPending = true;
    }

    @Override
    public void processWatermark(Watermark mark) throws Exception {
        emit();
        super.processWatermark(mark);
    }

    @Override
    public void prepareSnapshotPreBarrier(long checkpointId) throws Exception {
        emit();
        super.prepareSnapshotPreBarrier(checkpointId);
    }

    @Override
    public void finish() throws Exception {
        emit();
        super.finish();
    }

    private void emit() {
        if (filling.isEmpty()) {
            return;
        }
        List<T> full = filling;
        filling = new ArrayList<>(maxSize);
        output.collect(fillingHasTimestamp ? new StreamRecord<>(full, fillingTimestamp) : new StreamRecord<>(full));
    }
}
