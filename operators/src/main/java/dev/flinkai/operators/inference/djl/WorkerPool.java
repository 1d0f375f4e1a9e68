package dev.flinkai.operators.inference.djl;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.function.IntFunction;

/**
 * A bounded queue drained by {@code workers} daemon threads, each with a handler of its own (created once per worker,
 * so it may hold thread-confined resources such as a DJL predictor). A handler that throws loses that item but never
 * its worker. {@link #close()} interrupts and joins the workers, then closes the handlers.
 */
public final class WorkerPool<T> implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(WorkerPool.class);
    private static final long JOIN_MILLIS = 10_000;

    /** Handles the items of one worker thread. */
    public interface Handler<T> extends AutoCloseable {
        void handle(T item) throws Exception;

        @Override
        default void close() {}
    }

    private final String name;
    private final BlockingQueue<T> queue;
    private final List<Worker> workers = new ArrayList<>();
    private volatile boolean running;
    private boolean started;

    /**
     * @param handlerFactory called once per worker, with the worker index, before the worker starts
     */
    public WorkerPool(String name, int capacity, int workers, IntFunction<? extends Handler<T>> handlerFactory) {
        if (capacity < 1 || workers < 1) {
            throw new IllegalArgumentException("capacity and workers must be >= 1, got " + capacity + ", " + workers);
        }
        this.name = Objects.requireNonNull(name, "name");
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

    /** Starts the workers; items submitted before are kept in the queue and handled as soon as workers run. */
    public synchronized WorkerPool<T> start() {
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

    public int queued() {
        return queue.size();
    }

    /** Stops the workers (a worker finishes the item it holds), then closes the handlers. Queued items are dropped. */
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
                // Closing a handler under a running call (e.g. a native one) is unsafe: leave it to the daemon thread.
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
            LOG.warn("Closing a worker handler failed", e);
        }
    }

    private final class Worker implements Runnable {
        final Handler<T> handler;
        final Thread thread;

        Worker(int index, Handler<T> handler) {
            this.handler = handler;
            this.thread = new Thread(this, name + "-worker-" + index);
            this.thread.setDaemon(true);
        }

        @Override
        public void run() {
            // Only close() stops a worker: it clears 'running' before interrupting, so any other interrupt is ignored.
            while (running) {
                T item;
                try {
                    item = queue.take();
                } catch (InterruptedException e) {
                    continue;
                }
                try {
                    handler.handle(item);
                } catch (Throwable t) {
                    LOG.error("{}: handler failed; the worker continues", thread.getName(), t);
                }
                Thread.interrupted(); // clear a stray flag so the next take() does not spin
            }
        }
    }
}
