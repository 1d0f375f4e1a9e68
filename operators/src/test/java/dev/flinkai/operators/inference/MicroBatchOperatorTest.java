package dev.flinkai.operators.inference;

import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.api.common.typeutils.base.ListSerializer;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link MicroBatchOperator} in Flink's operator test harness with manual processing time: when a list closes, what it
 * holds, in which order, with which timestamp, and that nothing is lost or duplicated across a checkpoint.
 */
class MicroBatchOperatorTest {

    private static OneInputStreamOperatorTestHarness<Integer, List<Integer>> harness(int maxSize, Duration maxWait)
            throws Exception {
        var harness = new OneInputStreamOperatorTestHarness<>(new MicroBatchOperator<Integer>(maxSize, maxWait),
                IntSerializer.INSTANCE);
        harness.setup(new ListSerializer<>(IntSerializer.INSTANCE));
        return harness;
    }

    private static List<List<Integer>> lists(OneInputStreamOperatorTestHarness<Integer, List<Integer>> harness) {
        return harness.extractOutputValues();
    }

    private static List<List<Integer>> values(List<StreamRecord<? extends List<Integer>>> records) {
        List<List<Integer>> out = new ArrayList<>();
        records.forEach(r -> out.add(r.getValue()));
        return out;
    }

    /** Everything the operator emitted, in order: lists and watermarks. */
    private static List<Object> emitted(OneInputStreamOperatorTestHarness<Integer, List<Integer>> harness) {
        List<Object> out = new ArrayList<>();
        for (Object o : harness.getOutput()) {
            out.add(o instanceof StreamRecord<?> r ? r.getValue() : o);
        }
        return out;
    }

    /**
     * Two lanes (negative numbers are the priority ones here): a priority element never waits in a normal list, its
     * list closes after the priority lane's shorter wait, and a barrier or the end emits both lanes' open lists.
     */
    @Test
    void priorityElementsFillListsOfTheirOwnThatCloseSooner() throws Exception {
        MicroBatchOperator.Lanes<Integer> lanes = new MicroBatchOperator.Lanes<>(i -> i < 0, Duration.ofMillis(2));
        var operator = new MicroBatchOperator<Integer>(3, Duration.ofMillis(50), lanes, null);
        try (var harness = new OneInputStreamOperatorTestHarness<>(operator, IntSerializer.INSTANCE)) {
            harness.setup(new ListSerializer<>(IntSerializer.INSTANCE));
            harness.open();
            harness.setProcessingTime(1_000);
            harness.processElement(1, 1);
            harness.processElement(-1, 2);
            harness.processElement(2, 3);
            harness.processElement(-2, 4);
            harness.setProcessingTime(1_001);
            assertThat(lists(harness)).isEmpty();
            harness.setProcessingTime(1_002); // the priority list's wait is over, the normal one's is not
            assertThat(lists(harness)).containsExactly(List.of(-1, -2));
            harness.processElement(3, 5); // the normal list fills up
            assertThat(lists(harness)).containsExactly(List.of(-1, -2), List.of(1, 2, 3));

            harness.processElement(4, 6);
            harness.processElement(-3, 7);
            harness.prepareSnapshotPreBarrier(1);
            assertThat(lists(harness)).hasSize(4).contains(List.of(4), List.of(-3));
        }
    }

    /** A list is emitted the moment it holds maxSize elements, in arrival order, and no timer is needed for it. */
    @Test
    void aListClosesWhenItHoldsMaxSizeElements() throws Exception {
        try (var harness = harness(3, Duration.ofSeconds(10))) {
            harness.open();
            harness.setProcessingTime(0);
            for (int i = 1; i <= 7; i++) {
                harness.processElement(i, 100 + i);
            }
            assertThat(lists(harness)).containsExactly(List.of(1, 2, 3), List.of(4, 5, 6));

            harness.setProcessingTime(9_999); // 7 waits for company until first-element time + maxWait
            assertThat(lists(harness)).hasSize(2);
        }
    }

    /** A partial list is emitted when processing time reaches its first element's arrival + maxWait, and not before. */
    @Test
    void aPartialListClosesAtFirstElementTimePlusMaxWait() throws Exception {
        try (var harness = harness(100, Duration.ofMillis(50))) {
            harness.open();
            harness.setProcessingTime(1_000);
            harness.processElement(1, 1);
            harness.setProcessingTime(1_030);
            harness.processElement(2, 2); // a later element does not extend the list's deadline
            harness.setProcessingTime(1_049);
            assertThat(lists(harness)).isEmpty();

            harness.setProcessingTime(1_050);
            assertThat(lists(harness)).containsExactly(List.of(1, 2));

            harness.processElement(3, 3); // the next list gets its own deadline
            harness.setProcessingTime(1_099);
            assertThat(lists(harness)).hasSize(1);
            harness.setProcessingTime(1_100);
            assertThat(lists(harness)).containsExactly(List.of(1, 2), List.of(3));
        }
    }

    /** The timer of a list that closed full fires while a younger list fills: it must not close that list early. */
    @Test
    void aStaleTimerOfAListThatClosedFullDoesNotCloseTheNextListEarly() throws Exception {
        try (var harness = harness(2, Duration.ofMillis(100))) {
            harness.open();
            harness.setProcessingTime(0);
            harness.processElement(1, 1);
            harness.processElement(2, 2); // full: emitted; its timer (t=100) stays registered
            harness.setProcessingTime(60);
            harness.processElement(3, 3); // deadline 160
            harness.setProcessingTime(100);
            assertThat(lists(harness)).as("the old list's timer fired").containsExactly(List.of(1, 2));
            harness.setProcessingTime(159);
            assertThat(lists(harness)).containsExactly(List.of(1, 2));

            harness.setProcessingTime(160);
            assertThat(lists(harness)).containsExactly(List.of(1, 2), List.of(3));
        }
    }

    /** However many lists close full, at most one timer is pending, and the last partial list still closes on time. */
    @Test
    void listsThatCloseFullDoNotEachLeaveATimerBehind() throws Exception {
        try (var harness = harness(2, Duration.ofMillis(100))) {
            harness.open();
            for (int t = 0; t < 50; t++) {
                harness.setProcessingTime(t);
                harness.processElement(2 * t, t);
                harness.processElement(2 * t + 1, t);
                assertThat(harness.getProcessingTimeService().getNumActiveTimers()).isEqualTo(1);
            }
            harness.processElement(100, 50); // opened at t=49: deadline 149
            harness.setProcessingTime(100);  // the first list's timer fires, finds the open list, waits on for it
            assertThat(lists(harness)).hasSize(50);
            assertThat(harness.getProcessingTimeService().getNumActiveTimers()).isEqualTo(1);
            harness.setProcessingTime(148);
            assertThat(lists(harness)).hasSize(50);
            harness.setProcessingTime(149);
            assertThat(lists(harness)).hasSize(51).last().isEqualTo(List.of(100));
            assertThat(harness.getProcessingTimeService().getNumActiveTimers()).isZero();
        }
    }

    /**
     * Before a checkpoint barrier the open list is emitted, so the operator snapshots nothing: restored into a fresh
     * operator, the output before and after the checkpoint is the input, each element once and in order.
     */
    @Test
    void aCheckpointEmitsTheOpenListAndARestoreLosesAndDuplicatesNothing() throws Exception {
        List<Integer> before = new ArrayList<>();
        OperatorSubtaskState snapshot;
        try (var harness = harness(4, Duration.ofSeconds(10))) {
            harness.open();
            harness.setProcessingTime(0);
            for (int i = 0; i < 6; i++) {
                harness.processElement(i, i);
            }
            assertThat(lists(harness)).containsExactly(List.of(0, 1, 2, 3));

            harness.prepareSnapshotPreBarrier(1);
            assertThat(lists(harness)).containsExactly(List.of(0, 1, 2, 3), List.of(4, 5));
            snapshot = harness.snapshot(1, 1);
            lists(harness).forEach(before::addAll);
            // In a real failure the task is cancelled here: what arrived after the barrier is replayed by the source.
        }

        List<Integer> after = new ArrayList<>();
        try (var restored = harness(4, Duration.ofSeconds(10))) {
            restored.initializeState(snapshot);
            restored.open();
            restored.setProcessingTime(0);
            for (int i = 6; i < 11; i++) {
                restored.processElement(i, i);
            }
            assertThat(lists(restored)).containsExactly(List.of(6, 7, 8, 9));
            restored.setProcessingTime(10_000);
            assertThat(lists(restored)).containsExactly(List.of(6, 7, 8, 9), List.of(10));
            lists(restored).forEach(after::addAll);
        }
        List<Integer> all = new ArrayList<>(before);
        all.addAll(after);
        assertThat(all).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
    }

    /** A watermark never overtakes the elements before it: the open list is emitted first, then the watermark. */
    @Test
    void aWatermarkIsPrecededByTheOpenList() throws Exception {
        try (var harness = harness(10, Duration.ofSeconds(10))) {
            harness.open();
            harness.setProcessingTime(0);
            harness.processElement(1, 10);
            harness.processElement(2, 20);
            harness.processWatermark(new Watermark(20));
            harness.processWatermark(new Watermark(25)); // nothing open: only the watermark
            harness.processElement(3, 30);
            harness.processWatermark(new Watermark(30));

            assertThat(emitted(harness)).containsExactly(
                    List.of(1, 2), new Watermark(20), new Watermark(25), List.of(3), new Watermark(30));
        }
    }

    /**
     * An emitted list carries the largest timestamp of its elements (whatever their order), so it is never late for a
     * watermark its elements respected; a list of elements without timestamps carries none.
     */
    @Test
    void theEmittedRecordCarriesTheMaxTimestampOfItsElements() throws Exception {
        try (var harness = harness(3, Duration.ofSeconds(10))) {
            harness.open();
            harness.setProcessingTime(0);
            harness.processElement(1, 500);
            harness.processElement(2, 900);
            harness.processElement(3, 700);
            harness.processElement(4, -5);
            harness.processElement(5, -9);
            harness.processElement(6, -7);
            harness.processElement(new StreamRecord<>(7)); // no timestamps
            harness.processElement(new StreamRecord<>(8));
            harness.processElement(new StreamRecord<>(9));
            harness.processElement(new StreamRecord<>(10));
            harness.processElement(11, 42); // one of the list has a timestamp: the list has it
            harness.processElement(new StreamRecord<>(12));

            List<StreamRecord<? extends List<Integer>>> records = harness.extractOutputStreamRecords();
            assertThat(values(records))
                    .containsExactly(List.of(1, 2, 3), List.of(4, 5, 6), List.of(7, 8, 9), List.of(10, 11, 12));
            assertThat(records.get(0).hasTimestamp()).isTrue();
            assertThat(records.get(0).getTimestamp()).isEqualTo(900);
            assertThat(records.get(1).hasTimestamp()).isTrue();
            assertThat(records.get(1).getTimestamp()).isEqualTo(-5);
            assertThat(records.get(2).hasTimestamp()).isFalse();
            assertThat(records.get(3).hasTimestamp()).isTrue();
            assertThat(records.get(3).getTimestamp()).isEqualTo(42);
        }
    }

    /** At the end of input (finish, before close) the open list is emitted: the last elements are not lost. */
    @Test
    void finishEmitsTheRest() throws Exception {
        var harness = harness(4, Duration.ofSeconds(10));
        harness.open();
        harness.setProcessingTime(0);
        for (int i = 0; i < 6; i++) {
            harness.processElement(i, i);
        }
        harness.endInput();
        harness.close(); // finish(), then close()
        assertThat(lists(harness)).containsExactly(List.of(0, 1, 2, 3), List.of(4, 5));
    }

    /** maxWait 0 or maxSize 1 turn batching off: each element is emitted alone, at once, with its own timestamp. */
    @Test
    void maxWaitZeroOrMaxSizeOneEmitsEachElementAlone() throws Exception {
        for (var harness : List.of(harness(64, Duration.ZERO), harness(1, Duration.ofSeconds(10)))) {
            try (harness) {
                harness.open();
                harness.setProcessingTime(0);
                for (int i = 0; i < 3; i++) {
                    harness.processElement(i, 10 + i);
                }
                List<StreamRecord<? extends List<Integer>>> records = harness.extractOutputStreamRecords();
                assertThat(values(records)).containsExactly(List.of(0), List.of(1), List.of(2));
                assertThat(records).extracting(StreamRecord::getTimestamp).containsExactly(10L, 11L, 12L);
                assertThat(harness.getProcessingTimeService().getNumActiveTimers()).as("no timers").isZero();
            }
        }
    }

    /** Settings that cannot batch are refused when the job graph is built, not when the job runs. */
    @Test
    void rejectsBadSettings() {
        assertThatThrownBy(() -> new MicroBatchOperator<Integer>(0, Duration.ofMillis(5)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new MicroBatchOperator<Integer>(8, Duration.ofMillis(-1)))
                .isInstanceOf(IllegalArgumentException.class);
        // Timers have millisecond resolution: 500 us would silently mean no batching at all.
        assertThatThrownBy(() -> new MicroBatchOperator<Integer>(8, Duration.ofNanos(500_000)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least 1 ms");
    }

    /** An element the operator is told to pass alone leaves at once in a list of its own; open lists stay open. */
    @Test
    void controlElementsPassAloneAtOnce() throws Exception {
        var harness = new OneInputStreamOperatorTestHarness<>(
                new MicroBatchOperator<Integer>(3, Duration.ofMillis(50), null, i -> i < 0), IntSerializer.INSTANCE);
        harness.setup(new ListSerializer<>(IntSerializer.INSTANCE));
        harness.open();
        harness.processElement(1, 10);
        harness.processElement(-1, 11);
        harness.processElement(2, 12);
        harness.processElement(3, 13);
        assertThat(harness.extractOutputValues()).containsExactly(List.of(-1), List.of(1, 2, 3));
        harness.close();
    }
}
