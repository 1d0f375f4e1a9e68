package dev.flinkai.operators.bench;

import dev.flinkai.operators.inference.MicroBatchOperator;
import dev.flinkai.operators.features.ScoringRequest;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.serialization.SerializerConfigImpl;
import org.apache.flink.api.common.typeutils.base.ListSerializer;
import org.apache.flink.runtime.event.WatermarkEvent;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.operators.Output;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.LatencyMarker;
import org.apache.flink.streaming.runtime.streamrecord.RecordAttributes;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.runtime.watermarkstatus.WatermarkStatus;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.apache.flink.util.OutputTag;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@link MicroBatchOperator} alone, on the benchmark thread as on the task thread: the operator is opened in Flink's
 * operator test harness and its {@code processElement} is called directly, its output is a counting {@link Output}
 * (no serialization, no copy). Max wait 2 ms as the job's default; max size 64 (the job's default) and 1 (no batching:
 * a one-element list per request).
 *
 * <p>Each invocation processes a burst of {@value #BURST} realistic requests (a multiple of 64, so every list closes
 * full) and then moves processing time past the first list's deadline so its timer fires and finds no open list, as
 * in the job: the operator keeps at most one timer pending, not one per list. The score is nanoseconds per element.
 *
 * <p>What it leaves out: the harness's processing-time service is an in-memory queue; Flink's real one schedules each
 * timer on a {@code ScheduledThreadPoolExecutor}, which costs more per timer.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class MicroBatchOperatorBenchmark {

    static final int BURST = 4096;
    static final Duration MAX_WAIT = Duration.ofMillis(2);

    @Param({"1", "64"})
    public int maxSize;

    private StreamRecord<ScoringRequest>[] records;
    private OneInputStreamOperatorTestHarness<ScoringRequest, List<ScoringRequest>> harness;
    private OneInputStreamOperator<ScoringRequest, List<ScoringRequest>> operator;
    private final CountingOutput output = new CountingOutput();
    private long now;

    @Setup(Level.Trial)
    @SuppressWarnings("unchecked")
    public void setUp() throws Exception {
        BenchData.Sample[] samples = BenchData.samples(BURST, false);
        records = new StreamRecord[BURST];
        for (int i = 0; i < BURST; i++) {
            var e = samples[i].event();
            records[i] = new StreamRecord<>(new ScoringRequest(e.getEventId().toString(), e.getUserId().toString(),
                    e.getPriority(), e.getEventTimeMillis(), e.getEventTimeMillis(), samples[i].features()),
                    e.getEventTimeMillis());
        }
        var requests = TypeInformation.of(ScoringRequest.class).createSerializer(new SerializerConfigImpl());
        harness = new OneInputStreamOperatorTestHarness<>(new MicroBatchOperator<ScoringRequest>(maxSize, MAX_WAIT), requests);
        harness.setOutputCreator(serializer -> output);
        harness.setup(new ListSerializer<>(requests));
        harness.open();
        harness.setProcessingTime(now);
        operator = harness.getOneInputOperator();
    }

    @Benchmark
    @OperationsPerInvocation(BURST)
    public long processElements() throws Exception {
        for (StreamRecord<ScoringRequest> r : records) {
            operator.processElement(r);
        }
        now += MAX_WAIT.toMillis();
        harness.setProcessingTime(now); // the burst's one pending timer fires
        return output.elements;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        int pendingTimers = harness.getProcessingTimeService().getNumActiveTimers();
        harness.close();
        System.out.printf("NOTE MicroBatchOperator maxSize=%d: %d elements in %d lists, mean list %.1f, %d timers pending%n",
                maxSize, output.elements, output.lists, output.lists == 0 ? 0.0 : (double) output.elements / output.lists,
                pendingTimers);
        if (output.elements % maxSize != 0 || output.lists * maxSize != output.elements) {
            throw new IllegalStateException("lists did not close full: the benchmark measured the wrong path");
        }
    }

    /** The next operator: counts lists and elements, keeps nothing. */
    static final class CountingOutput implements Output<StreamRecord<List<ScoringRequest>>> {
        long lists;
        long elements;

        @Override
        public void collect(StreamRecord<List<ScoringRequest>> record) {
            lists++;
            elements += record.getValue().size();
        }

        @Override
        public void emitWatermark(Watermark mark) {}

        @Override
        public void emitWatermarkStatus(WatermarkStatus watermarkStatus) {}

        @Override
        public <X> void collect(OutputTag<X> outputTag, StreamRecord<X> record) {}

        @Override
        public void emitLatencyMarker(LatencyMarker latencyMarker) {}

        @Override
        public void emitRecordAttributes(RecordAttributes recordAttributes) {}

        @Override
        public void emitWatermark(WatermarkEvent watermark) {}

        @Override
        public void close() {}
    }
}
