package dev.flinkai.operators.inference;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;

/**
 * A bounded queue drained by {@code workers} daemon threads. Each worker blocks for a first item, then keeps adding
 * queued items until the batch holds {@code maxBatchSize} items or {@code maxWait} has passed since the first item,
 * and hands the batch to its own handler (created once per worker, so it may hold thread-confined resources such as a
 * DJL predictor). A handler that throws loses that batch but never its worker. {@link #close()} interrupts and joins
 * the workers, then closes the handlers.
 */
public final class MicroBatcher<T> implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(MicroBatcher.class);
    private static final long JOIN_MILLIS = 10_000;

    /** Handles the batches of one worker thread. The list is only valid during the call. */
    public interface BatchHandler<T> extends AutoCloseable {
        void handle(List<T> batch) throws Exception;

        @Override
        default void close() {}
    }

    private final String name;
    private final int maxBatchSize;
    private final long maxWaitNanos;
    private final BlockingQueue<T> queue;
    private final List<Worker> workers = new ArrayList<>();
    private final AtomicLong handlerFailures = new AtomicLong();
    private volatile boolean running;
    private boolean started;

    /**
     * @param handlerFactory called once per worker, with the worker index, before the worker starts
     */
    public MicroBatcher(String name, int capacity, int maxBatchSize, Duration maxWait, int workers,
                        IntFunction<? extends BatchHandler<T>> handlerFactory) {
        if (capacity < 1 || maxBatchSize < 1 || workers < 1) {
            throw new IllegalArgumentException("capacity, maxBatchSize and workers must be >= 1, got "
                    + capacity + ", " + maxBatchSize + ", " + workers);
        }
        if (maxWait.isNegative()) {
            throw new IllegalArgumentException("maxWait must not be negative: " + maxWait);
        }
        this.name = Objects.requireNonNull(name, "name");
        this.maxBatchSize = maxBatchSize;
        this.maxWaitNanos = maxWait.toNanos();
        this.queue = new ArrayBlockingQueue<>(capacity);
        try {
            for (int i = 0; i < workers; i++) {
                this.workers.add(new Worker(i, Objects.requireNonNull(handlerFactory.apply(i), "handler")));
            }
        } catch (RuntimeException e) {
            this.workers.forEach(w -> closeQuietly(w.handler));
            throw e;
        }
    }

    /** Starts the workers; items submitted before are kept in the queue and batched as soon as workers run. */
    public synchronized MicroBatcher<T> start() {
        if (started) {
            throw new IllegalStateException(name + " already started");
        }
        started = true;
        running = true;
        workers.forEach(w -> w.thread.start());
        return this;
    }

    /** Enqueues, blocking while the queue is full. */
    public void submit(T item) throws InterruptedException {
        queue.put(Objects.requireNonNull(item, "item"));
    }

    /** Enqueues if there is room right now. */
    public boolean offer(T item) {
        return queue.offer(Objects.requireNonNull(item, "item"));
    }

    public int queued() {
        return queue.size();
    }

    /** How many batches were lost because their handler threw. */
    public long handlerFailures() {
        return handlerFailures.get();
    }

    /** Stops the workers (a worker finishes the batch it holds), then closes the handlers. Queued items are dropped. */
    @Override
    public void close() {
        running = false;
        for (Worker w : workers) {
            w.thread.interrupt();
        }
        boolean interrupted = false;
        for (Worker w : workers) {
            if (!started) {
                closeQuietly(w.handler);
                continue;
            }
            try {
                w.thread.join(JOIN_MILLIS);
            } catch (InterruptedException e) {
                interrupted = true;
            }
            if (w.thread.isAlive()) {
                // Closing a handler under a running batch (e.g. a native call) is unsafe: leave it to the daemon thread.
                LOG.warn("{} did not stop within {} ms; its handler is left open", w.thread.getName(), JOIN_MILLIS);
            } else {
                closeQuietly(w.handler);
            }
        }
        queue.clear();
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            LOG.warn("Closing a batch handler failed", e);
        }
    }

    private final class Worker implements Runnable {
        final BatchHandler<T> handler;
        final Thread thread;

        Worker(int index, BatchHandler<T> handler) {
            this.handler = handler;
            this.thread = new Thread(this, name + "-worker-" + index);
            this.thread.setDaemon(true);
        }

        @Override
        public void run() {
            // Only close() stops a worker: it clears 'running' before interrupting, so any other interrupt is ignored.
            while (running) {
                List<T> batch = new ArrayList<>(Math.min(maxBatchSize, 256));
                try {
                    batch.add(queue.take());
                } catch (InterruptedException e) {
                    continue;
                }
                long deadline = System.nanoTime() + maxWaitNanos;
                while (batch.size() < maxBatchSize) {
                    queue.drainTo(batch, maxBatchSize - batch.size());
                    if (batch.size() >= maxBatchSize) {
                        break;
                    }
                    long remaining = deadline - System.nanoTime();
                    if (remaining <= 0) {
                        break;
                    }
                    T next;
                    try {
                        next = queue.poll(remaining, TimeUnit.NANOSECONDS);
                    } catch (InterruptedException e) {
                        break; // hand over what we hold, then the loop condition decides
                    }
                    if (next == null) {
                        break;
                    }
                    batch.add(next);
                }
                try {
                    handler.handle(batch);
                } catch (Throwable t) {
                    handlerFailures.incrementAndGet();
                    LOG.error("{}: batch handler failed on a batch of {}; the worker continues", thread.getName(), batch.size(), t);
                }
                Thread.interrupted(); // clear a stray flag so the next take() does not spin
            }
        }
    }
}
