package dev.flinkai.operators.inference.djl;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
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
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WorkerPoolTest {

    /** One worker's handler: records what it handled, on which thread, and whether it was closed. */
    private static final class Recorder implements WorkerPool.Handler<Integer> {
        final int index;
        final List<Integer> items = new CopyOnWriteArrayList<>();
        final Set<String> threads = ConcurrentHashMap.newKeySet();
        final AtomicInteger closed = new AtomicInteger();
        final AtomicInteger total;

        Recorder(int index, AtomicInteger total) {
            this.index = index;
            this.total = total;
        }

        @Override
        public void handle(Integer item) {
            items.add(item);
            threads.add(Thread.currentThread().getName());
            total.incrementAndGet();
        }

        @Override
        public void close() {
            closed.incrementAndGet();
        }
    }

    private static void awaitCount(AtomicInteger counter, int expected) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (counter.get() < expected && System.nanoTime() < deadline) {
            Thread.sleep(2);
        }
        assertThat(counter.get()).as("items handled").isEqualTo(expected);
    }

    private static List<Thread> liveThreads(String prefix) {
        List<Thread> alive = new ArrayList<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith(prefix) && t.isAlive()) {
                alive.add(t);
            }
        }
        return alive;
    }

    /** Items submitted before start wait in the queue; one worker then handles them in submission order. */
    @Test
    void itemsQueuedBeforeStartAreHandledInOrderByTheSingleWorker() throws Exception {
        AtomicInteger total = new AtomicInteger();
        List<Recorder> handlers = new CopyOnWriteArrayList<>();
        try (WorkerPool<Integer> pool = new WorkerPool<>("ordered", 100, 1, i -> {
            Recorder r = new Recorder(i, total);
            handlers.add(r);
            return r;
        })) {
            for (int i = 0; i < 10; i++) {
                pool.submit(i);
            }
            assertThat(pool.queued()).isEqualTo(10);
            Thread.sleep(20);
            assertThat(total).as("nothing handled before start").hasValue(0);

            pool.start();
            awaitCount(total, 10);
            assertThat(handlers).hasSize(1);
            assertThat(handlers.get(0).items).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
            assertThat(handlers.get(0).threads).containsExactly("ordered-worker-0");
            assertThat(pool.queued()).isZero();
        }
        assertThat(handlers.get(0).closed).hasValue(1);
    }

    /**
     * Every item is handled exactly once under concurrent submitters, a small queue (submitters block on it) and three
     * workers; each worker has its own handler, used only on that worker's thread.
     */
    @Test
    void everyItemIsHandledExactlyOnceByTheHandlerOfTheWorkerThatTookIt() throws Exception {
        int submitters = 4;
        int perSubmitter = 5_000;
        int workers = 3;
        AtomicInteger total = new AtomicInteger();
        Map<Integer, Recorder> handlers = new ConcurrentHashMap<>();
        ExecutorService submitPool = Executors.newFixedThreadPool(submitters);
        WorkerPool<Integer> pool = new WorkerPool<>("concurrent", 16, workers, i -> {
            Recorder r = new Recorder(i, total);
            handlers.put(i, r);
            return r;
        });
        try (pool) {
            pool.start();
            CountDownLatch go = new CountDownLatch(1);
            List<Future<?>> futures = new ArrayList<>();
            for (int s = 0; s < submitters; s++) {
                int base = s * perSubmitter;
                futures.add(submitPool.submit(() -> {
                    go.await();
                    for (int i = 0; i < perSubmitter; i++) {
                        pool.submit(base + i);
                    }
                    return null;
                }));
            }
            go.countDown();
            for (Future<?> f : futures) {
                f.get(60, TimeUnit.SECONDS);
            }
            awaitCount(total, submitters * perSubmitter);
        } finally {
            submitPool.shutdownNow();
        }
        assertThat(handlers).hasSize(workers);
        Map<Integer, Integer> seen = new ConcurrentHashMap<>();
        for (Recorder r : handlers.values()) {
            r.items.forEach(item -> seen.merge(item, 1, Integer::sum));
            // A handler is only ever called on its own worker's thread (its predictor is thread-confined).
            if (!r.items.isEmpty()) {
                assertThat(r.threads).containsExactly("concurrent-worker-" + r.index);
            }
            assertThat(r.closed).hasValue(1);
        }
        assertThat(seen).hasSize(submitters * perSubmitter);
        assertThat(seen.values()).allSatisfy(count -> assertThat(count).isEqualTo(1));
    }

    /** A handler that throws loses that item only: the same worker, with the same handler, handles the rest. */
    @Test
    void aThrowingHandlerDoesNotKillItsWorker() throws Exception {
        AtomicInteger total = new AtomicInteger();
        List<Integer> handled = new CopyOnWriteArrayList<>();
        Set<String> threads = ConcurrentHashMap.newKeySet();
        AtomicInteger created = new AtomicInteger();
        try (WorkerPool<Integer> pool = new WorkerPool<Integer>("failing", 100, 1, i -> {
            created.incrementAndGet();
            return item -> {
                threads.add(Thread.currentThread().getName());
                total.incrementAndGet();
                if (item == 1 || item == 3) {
                    throw new IllegalStateException("item " + item + " fails");
                }
                if (item == 2) {
                    throw new AssertionError("an Error fails the item too, not the worker");
                }
                handled.add(item);
            };
        }).start()) {
            for (int i = 0; i < 6; i++) {
                pool.submit(i);
            }
            awaitCount(total, 6);
            assertThat(handled).containsExactly(0, 4, 5);
            assertThat(threads).containsExactly("failing-worker-0");
            assertThat(created).hasValue(1);
            assertThat(liveThreads("failing-worker-")).hasSize(1);
        }
    }

    /**
     * close() interrupts the workers but lets each finish the item it holds, joins them and only then closes each
     * handler (never under a running call); items still queued are dropped, not handled.
     */
    @Test
    void closeJoinsTheWorkersThenClosesTheirHandlers() throws Exception {
        CountDownLatch bothHolding = new CountDownLatch(2);
        CountDownLatch bothInterrupted = new CountDownLatch(2);
        CountDownLatch release = new CountDownLatch(1);
        List<Integer> finished = new CopyOnWriteArrayList<>();
        AtomicBoolean closedDuringCall = new AtomicBoolean();
        AtomicInteger closed = new AtomicInteger();
        AtomicReference<Throwable> closeError = new AtomicReference<>();
        WorkerPool<Integer> pool = new WorkerPool<Integer>("closing", 10, 2, i -> new WorkerPool.Handler<>() {
            final AtomicBoolean busy = new AtomicBoolean();

            @Override
            public void handle(Integer item) {
                busy.set(true);
                bothHolding.countDown();
                boolean released = false;
                while (!released) { // like a native model call: an interrupt does not stop it
                    try {
                        released = release.await(30, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        bothInterrupted.countDown();
                    }
                }
                finished.add(item);
                busy.set(false);
            }

            @Override
            public void close() {
                if (busy.get()) {
                    closedDuringCall.set(true);
                }
                closed.incrementAndGet();
            }
        }).start();
        pool.submit(0);
        pool.submit(1);
        assertThat(bothHolding.await(30, TimeUnit.SECONDS)).as("both workers hold an item").isTrue();
        pool.submit(2);
        pool.submit(3);

        Thread closer = new Thread(() -> {
            try {
                pool.close();
            } catch (Throwable t) {
                closeError.set(t);
            }
        }, "closer");
        closer.start();
        assertThat(bothInterrupted.await(30, TimeUnit.SECONDS)).as("close interrupts the workers").isTrue();
        Thread.sleep(20);
        assertThat(closer.isAlive()).as("close waits for the busy workers").isTrue();
        assertThat(closed).as("no handler closed while its worker still runs").hasValue(0);

        release.countDown();
        closer.join(TimeUnit.SECONDS.toMillis(30));
        assertThat(closer.isAlive()).isFalse();
        assertThat(closeError.get()).isNull();
        assertThat(finished).containsExactlyInAnyOrder(0, 1); // 2 and 3 were dropped
        assertThat(closedDuringCall).isFalse();
        assertThat(closed).hasValue(2);
        assertThat(liveThreads("closing-worker-")).isEmpty();
        assertThat(pool.queued()).isZero();
    }

    /** A pool closed without being started still closes the handlers it created. */
    @Test
    void closeWithoutStartClosesTheHandlers() {
        AtomicInteger closed = new AtomicInteger();
        WorkerPool<Integer> pool = new WorkerPool<Integer>("unstarted", 4, 3, i -> new WorkerPool.Handler<>() {
            @Override
            public void handle(Integer item) {}

            @Override
            public void close() {
                closed.incrementAndGet();
            }
        });
        pool.close();
        assertThat(closed).hasValue(3);
        assertThat(liveThreads("unstarted-worker-")).isEmpty();
    }

    /** When a handler factory fails, the handlers already created are closed before the error propagates. */
    @Test
    void aFailingHandlerFactoryClosesTheHandlersItAlreadyMade() {
        AtomicInteger closed = new AtomicInteger();
        assertThatThrownBy(() -> new WorkerPool<Integer>("factory", 4, 3, i -> {
            if (i == 2) {
                throw new IllegalStateException("no predictor for worker 2");
            }
            return new WorkerPool.Handler<>() {
                @Override
                public void handle(Integer item) {}

                @Override
                public void close() {
                    closed.incrementAndGet();
                }
            };
        })).isInstanceOf(IllegalStateException.class).hasMessage("no predictor for worker 2");
        assertThat(closed).hasValue(2);
    }

    /** submit blocks while the queue is full (back-pressure on the caller) and returns once a worker takes an item. */
    @Test
    void submitBlocksWhileTheQueueIsFull() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch firstTaken = new CountDownLatch(1);
        List<Integer> handled = new CopyOnWriteArrayList<>();
        AtomicInteger total = new AtomicInteger();
        ExecutorService submitter = Executors.newSingleThreadExecutor();
        try (WorkerPool<Integer> pool = new WorkerPool<Integer>("full", 2, 1, i -> item -> {
            firstTaken.countDown();
            release.await();
            handled.add(item);
            total.incrementAndGet();
        }).start()) {
            pool.submit(0);
            assertThat(firstTaken.await(30, TimeUnit.SECONDS)).isTrue(); // the worker holds 0
            pool.submit(1);
            pool.submit(2); // the queue (capacity 2) is now full
            assertThat(pool.queued()).isEqualTo(2);
            Future<?> blocked = submitter.submit(() -> {
                pool.submit(3);
                return null;
            });
            Thread.sleep(100);
            assertThat(blocked.isDone()).as("submit returned although the queue was full").isFalse();

            release.countDown();
            blocked.get(30, TimeUnit.SECONDS);
            awaitCount(total, 4);
            assertThat(handled).containsExactly(0, 1, 2, 3);
        } finally {
            submitter.shutdownNow();
        }
    }

    /** Arguments that cannot work are refused up front; a pool starts once. */
    @Test
    void rejectsBadArgumentsAndASecondStart() {
        assertThatThrownBy(() -> new WorkerPool<Integer>("bad", 0, 1, i -> item -> {}))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new WorkerPool<Integer>("bad", 1, 0, i -> item -> {}))
                .isInstanceOf(IllegalArgumentException.class);
        try (WorkerPool<Integer> pool = new WorkerPool<Integer>("twice", 1, 1, i -> item -> {}).start()) {
            assertThatThrownBy(pool::start).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> pool.submit(null)).isInstanceOf(NullPointerException.class);
        }
    }
}
