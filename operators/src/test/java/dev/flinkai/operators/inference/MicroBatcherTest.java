package dev.flinkai.operators.inference;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

class MicroBatcherTest {

    /** Collects batches; the batcher's list is only valid during the call, so it is copied. */
    private static final class Recorder implements MicroBatcher.BatchHandler<Integer> {
        final List<List<Integer>> batches = new CopyOnWriteArrayList<>();
        final AtomicInteger items = new AtomicInteger();
        final Set<String> threads = ConcurrentHashMap.newKeySet();
        final AtomicInteger closed = new AtomicInteger();

        @Override
        public void handle(List<Integer> batch) {
            batches.add(new ArrayList<>(batch));
            threads.add(Thread.currentThread().getName());
            items.addAndGet(batch.size());
        }

        @Override
        public void close() {
            closed.incrementAndGet();
        }
    }

    private static void awaitItems(AtomicInteger counter, int expected) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (counter.get() < expected && System.nanoTime() < deadline) {
            Thread.sleep(2);
        }
        assertThat(counter.get()).as("items handled").isEqualTo(expected);
    }

    @Test
    void aBatchClosesWhenItReachesMaxBatchSize() throws Exception {
        Recorder recorder = new Recorder();
        try (MicroBatcher<Integer> batcher = new MicroBatcher<>("size", 100, 4, Duration.ofMillis(200), 1, i -> recorder)) {
            for (int i = 0; i < 10; i++) {
                batcher.submit(i); // queued before the worker runs
            }
            batcher.start();
            awaitItems(recorder.items, 10);
            assertThat(recorder.batches).extracting(List::size).containsExactly(4, 4, 2);
            assertThat(recorder.batches).flatExtracting(b -> b).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
            assertThat(recorder.threads).containsExactly("size-worker-0");
        }
        assertThat(recorder.closed).hasValue(1);
    }

    @Test
    void aLoneItemIsHandedOverAfterMaxWait() throws Exception {
        Recorder recorder = new Recorder();
        Duration maxWait = Duration.ofMillis(50);
        try (MicroBatcher<Integer> batcher = new MicroBatcher<>("time", 100, 1000, maxWait, 1, i -> recorder).start()) {
            long start = System.nanoTime();
            batcher.submit(42);
            awaitItems(recorder.items, 1);
            long elapsedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertThat(recorder.batches).containsExactly(List.of(42));
            // The worker waits for company up to maxWait after the first item, never less (upper bound: awaitItems' 30 s).
            assertThat(elapsedMillis).isGreaterThanOrEqualTo(maxWait.toMillis() - 5);

            batcher.submit(43); // and it keeps working afterwards
            awaitItems(recorder.items, 2);
            assertThat(recorder.batches).containsExactly(List.of(42), List.of(43));
        }
    }

    @Test
    void everyItemIsHandledExactlyOnceUnderConcurrentSubmittersAndTwoWorkers() throws Exception {
        int submitters = 4;
        int perSubmitter = 5_000;
        int maxBatch = 16;
        Map<Integer, AtomicInteger> seen = new ConcurrentHashMap<>();
        AtomicInteger handled = new AtomicInteger();
        AtomicInteger oversized = new AtomicInteger();
        Set<String> threads = ConcurrentHashMap.newKeySet();
        AtomicInteger closed = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(submitters);
        // A small queue makes submitters block on a full queue too.
        try (MicroBatcher<Integer> batcher = new MicroBatcher<>("concurrent", 64, maxBatch, Duration.ofMillis(1), 2,
                i -> new MicroBatcher.BatchHandler<Integer>() {
                    @Override
                    public void handle(List<Integer> batch) {
                        if (batch.size() > maxBatch) {
                            oversized.incrementAndGet();
                        }
                        threads.add(Thread.currentThread().getName());
                        for (Integer item : batch) {
                            seen.computeIfAbsent(item, k -> new AtomicInteger()).incrementAndGet();
                        }
                        handled.addAndGet(batch.size());
                    }

                    @Override
                    public void close() {
                        closed.incrementAndGet();
                    }
                }).start()) {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<?>> futures = new ArrayList<>();
            for (int s = 0; s < submitters; s++) {
                int base = s * perSubmitter;
                futures.add(pool.submit(() -> {
                    go.await();
                    for (int i = 0; i < perSubmitter; i++) {
                        batcher.submit(base + i);
                    }
                    return null;
                }));
            }
            go.countDown();
            for (Future<?> f : futures) {
                f.get(60, TimeUnit.SECONDS);
            }
            awaitItems(handled, submitters * perSubmitter);
        } finally {
            pool.shutdownNow();
        }
        assertThat(seen).hasSize(submitters * perSubmitter);
        assertThat(seen.values()).allSatisfy(count -> assertThat(count).hasValue(1));
        assertThat(oversized).hasValue(0);
        assertThat(threads).allSatisfy(name -> assertThat(name).startsWith("concurrent-worker-"));
        assertThat(closed).hasValue(2);
    }

    @Test
    void aFailingHandlerDoesNotKillItsWorker() throws Exception {
        AtomicInteger handled = new AtomicInteger();
        AtomicLong calls = new AtomicLong();
        try (MicroBatcher<Integer> batcher = new MicroBatcher<>("failing", 100, 1, Duration.ZERO, 1,
                i -> (MicroBatcher.BatchHandler<Integer>) batch -> {
                    if (calls.incrementAndGet() == 1) {
                        throw new IllegalStateException("first batch fails");
                    }
                    handled.addAndGet(batch.size());
                }).start()) {
            for (int i = 0; i < 5; i++) {
                batcher.submit(i);
            }
            awaitItems(handled, 4);
            assertThat(batcher.handlerFailures()).isEqualTo(1);
        }
    }

    @Test
    void closeStopsAndJoinsTheWorkers() throws Exception {
        Recorder recorder = new Recorder();
        MicroBatcher<Integer> batcher = new MicroBatcher<>("closing", 10, 4, Duration.ofMillis(1), 2, i -> recorder).start();
        batcher.submit(1);
        awaitItems(recorder.items, 1);
        batcher.close();
        Set<String> alive = Collections.synchronizedSet(new java.util.HashSet<>());
        Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("closing-worker-") && t.isAlive())
                .forEach(t -> alive.add(t.getName()));
        assertThat(alive).isEmpty();
        assertThat(recorder.closed).hasValue(2);
    }
}
