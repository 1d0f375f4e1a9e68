package dev.flinkai.operators.bench;

import dev.flinkai.operators.inference.MicroBatcher;
import dev.flinkai.operators.inference.ScoringRequest;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@link MicroBatcher} alone, with a handler that only counts: items per second through {@code submit}, the queue and
 * the hand-over of batches to the worker. Settings as the job's defaults: max batch 64, max wait 2 ms, 1 worker,
 * capacity 10 000.
 *
 * <p>Each invocation submits a burst of {@value #BURST} items (a multiple of the max batch, so batches close full and
 * never wait for {@code maxWait}) and waits until the handler has seen all of them; the score is items/s.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class MicroBatcherBenchmark {

    static final int BURST = 4096;
    static final int MAX_BATCH = 64;

    private final AtomicLong handled = new AtomicLong();
    private final AtomicLong batches = new AtomicLong();
    private ScoringRequest[] items;
    private MicroBatcher<ScoringRequest> batcher;
    private long target;

    @Setup(Level.Trial)
    public void setUp() {
        BenchData.Sample[] samples = BenchData.samples(BURST, false);
        items = new ScoringRequest[BURST];
        for (int i = 0; i < BURST; i++) {
            var e = samples[i].event();
            items[i] = new ScoringRequest(e.getEventId().toString(), e.getUserId().toString(), e.getPriority(),
                    e.getEventTimeMillis(), e.getEventTimeMillis(), samples[i].features());
        }
        batcher = new MicroBatcher<ScoringRequest>("bench", 10_000, MAX_BATCH, Duration.ofMillis(2), 1,
                worker -> (List<ScoringRequest> batch) -> {
                    batches.incrementAndGet();
                    handled.addAndGet(batch.size());
                }).start();
    }

    @Benchmark
    @OperationsPerInvocation(BURST)
    public long submitAndHandOver() throws InterruptedException {
        for (ScoringRequest item : items) {
            batcher.submit(item);
        }
        target += BURST;
        while (handled.get() < target) {
            Thread.yield(); // 2-core machines: leave the worker its core
        }
        return target;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        batcher.close();
        long b = batches.get();
        System.out.printf("NOTE MicroBatcher: %d items in %d batches, mean batch %.1f (max %d)%n",
                handled.get(), b, b == 0 ? 0.0 : (double) handled.get() / b, MAX_BATCH);
    }
}
