package dev.flinkai.operators.inference;

import dev.flinkai.schemas.Prediction;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.streaming.api.datastream.AsyncDataStream;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.functions.async.ResultFuture;
import org.apache.flink.streaming.api.functions.async.RichAsyncFunction;
import org.apache.flink.streaming.api.operators.async.AsyncWaitOperatorFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Async model inference with micro-batching. {@link #asyncInvoke} only enqueues; worker threads (each with its own DJL
 * predictor) score whole batches and complete every request's future with a {@link Prediction}.
 *
 * <p>Every request completes exactly once from this side, with either the model's answer or a fallback (the model's
 * class priors, {@code fallback=true}, a {@code fallbackReason}):
 * <ul>
 *   <li>requests whose features are missing or of the wrong width get a fallback at once and never reach a batch;</li>
 *   <li>when the model fails on a batch, every request of that batch gets a fallback naming the error;</li>
 *   <li>when a request is not answered within the timeout, it gets a fallback ("timeout after X ms") instead of
 *       failing the job, and workers skip it if it is still queued.</li>
 * </ul>
 *
 * <p>The timeout is enforced here, by one sweeper thread per subtask, not by the async operator: the operator would
 * schedule and cancel a timer for every element, which cost more per event than scoring it in a batch.
 *
 * <p>Metrics, in the subgroup {@code inference}: histograms {@code batchSize} (requests per model call) and
 * {@code latencyMicros} (asyncInvoke to completion, any outcome); gauges {@code inFlight} and {@code queued}; counters
 * {@code predictions} (model answers), {@code fallbacks} (all fallbacks), {@code timeouts}, {@code modelErrors} (failed
 * batches) and {@code invalidRequests}.
 */
public class BatchingInferenceFunction extends RichAsyncFunction<ScoringRequest, Prediction> {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(BatchingInferenceFunction.class);
    private static final int HISTOGRAM_WINDOW = 10_000;

    private final InferenceSettings settings;
    private final long timeoutMillis;

    private transient ServedModel model;
    private transient MicroBatcher<Pending> batcher;
    private transient ScheduledExecutorService timeoutSweeper;
    private transient Set<Pending> pending; // submitted to the batcher, not yet answered
    private transient AtomicInteger inFlight;
    private transient Counter predictions;
    private transient Counter fallbacks;
    private transient Counter timeouts;
    private transient Counter modelErrors;
    private transient Counter invalidRequests;
    private transient Histogram batchSize;
    private transient Histogram latencyMicros;

    /**
     * @param timeout how long a request may wait for the model before it is answered with a fallback
     */
    public BatchingInferenceFunction(InferenceSettings settings, Duration timeout) {
        this.settings = Objects.requireNonNull(settings, "settings");
        settings.validate();
        if (timeout.toMillis() < 1) {
            throw new IllegalArgumentException("timeout must be >= 1 ms, got " + timeout);
        }
        this.timeoutMillis = timeout.toMillis();
    }

    /**
     * Adds unordered async inference to {@code requests}. The caller sets uid, name and parallelism on the result. The
     * output type is extracted by Flink (an Avro type: needs flink-avro on the job's classpath).
     *
     * @param timeout  per-request timeout; a request still unanswered by then gets a fallback prediction
     * @param capacity maximum requests in flight per subtask (keep it at or below {@code settings.queueCapacity()})
     */
    public static SingleOutputStreamOperator<Prediction> apply(DataStream<ScoringRequest> requests, InferenceSettings settings,
                                                               Duration timeout, int capacity) {
        // Operator timeout 0 (none): the function enforces the timeout itself, without a timer per element.
        return AsyncDataStream.unorderedWait(requests, new BatchingInferenceFunction(settings, timeout),
                0, TimeUnit.MILLISECONDS, capacity);
    }

    /**
     * As {@link #apply(DataStream, InferenceSettings, Duration, int)} with a prepared function (e.g. a subclass) and an
     * explicit output type, so no type extraction happens. Builds the same operator as
     * {@link AsyncDataStream#unorderedWait}.
     */
    public static SingleOutputStreamOperator<Prediction> apply(DataStream<ScoringRequest> requests,
                                                               BatchingInferenceFunction function, Duration timeout,
                                                               int capacity, TypeInformation<Prediction> outputType) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be >= 1, got " + capacity);
        }
        return requests.transform("async wait operator", outputType, new AsyncWaitOperatorFactory<>(
                requests.getExecutionEnvironment().clean(function), 0, capacity,
                AsyncDataStream.OutputMode.UNORDERED));
    }

    @Override
    public void open(OpenContext openContext) throws Exception {
        int subtask = getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
        model = ServedModel.open(settings, "subtask-" + subtask);
        pending = ConcurrentHashMap.newKeySet();
        inFlight = new AtomicInteger();

        MetricGroup group = getRuntimeContext().getMetricGroup().addGroup("inference");
        predictions = group.counter("predictions");
        fallbacks = group.counter("fallbacks");
        timeouts = group.counter("timeouts");
        modelErrors = group.counter("modelErrors");
        invalidRequests = group.counter("invalidRequests");
        batchSize = group.histogram("batchSize", new SynchronizedHistogram(HISTOGRAM_WINDOW));
        latencyMicros = group.histogram("latencyMicros", new SynchronizedHistogram(HISTOGRAM_WINDOW));
        group.gauge("inFlight", (Gauge<Integer>) () -> inFlight.get());

        batcher = new MicroBatcher<>("inference-" + subtask, settings.queueCapacity(), settings.maxBatchSize(),
                settings.maxWait(), settings.workers(), i -> new WorkerHandler(createWorkerScorer(model.scorer())));
        group.gauge("queued", (Gauge<Integer>) () -> batcher.queued());
        batcher.start();
        long sweepMillis = Math.max(1, Math.min(100, timeoutMillis / 10));
        timeoutSweeper = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "inference-" + subtask + "-timeouts");
            thread.setDaemon(true);
            return thread;
        });
        timeoutSweeper.scheduleWithFixedDelay(this::expireOverdueRequests, sweepMillis, sweepMillis, TimeUnit.MILLISECONDS);
        LOG.info("Inference subtask {} serves {} {} from {} with {}", subtask, model.metadata().name(),
                model.metadata().version(), settings.modelUri(), settings);
    }

    /**
     * The scorer a worker thread uses; by default a fresh DJL predictor of the shared model. Tests override this to put
     * the real model behind a delay or a failure.
     */
    protected BatchScorer createWorkerScorer(DjlScorer sharedModel) {
        return sharedModel.newPredictor();
    }

    /** The metadata of the loaded model (after open). */
    public ModelMetadata metadata() {
        return model.metadata();
    }

    @Override
    public void asyncInvoke(ScoringRequest request, ResultFuture<Prediction> resultFuture) throws Exception {
        Pending p = new Pending(request, resultFuture, System.nanoTime());
        inFlight.incrementAndGet();
        String invalid = model.invalidFeatures(request);
        if (invalid != null) {
            invalidRequests.inc();
            completeWithFallback(p, invalid);
            return;
        }
        pending.add(p);
        batcher.submit(p);
    }

    /** Answers every request older than the timeout with a fallback; runs on the sweeper thread. */
    private void expireOverdueRequests() {
        long overdueBefore = System.nanoTime() - TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        for (Pending p : pending) {
            if (p.enqueuedNanos - overdueBefore <= 0 && completeWithFallback(p, "timeout after " + timeoutMillis + " ms")) {
                timeouts.inc();
            }
        }
    }

    @Override
    public void close() throws Exception {
        try {
            if (timeoutSweeper != null) {
                timeoutSweeper.shutdownNow();
                timeoutSweeper = null;
            }
            if (batcher != null) {
                batcher.close();
            }
        } finally {
            batcher = null;
            if (model != null) {
                model.close();
                model = null;
            }
        }
    }

    /** Completes {@code p} with the model's answer unless it was completed before; true if this call completed it. */
    private boolean completeWithScores(Pending p, float[] scores, long now) {
        if (!p.finish()) {
            return false;
        }
        Prediction prediction = model.prediction(p.request, scores, now);
        predictions.inc();
        emit(p, prediction);
        return true;
    }

    private boolean completeWithFallback(Pending p, String reason) {
        if (!p.finish()) {
            return false;
        }
        Prediction prediction = model.fallback(p.request, reason);
        fallbacks.inc();
        emit(p, prediction);
        return true;
    }

    private void emit(Pending p, Prediction prediction) {
        pending.remove(p);
        inFlight.decrementAndGet();
        latencyMicros.update((System.nanoTime() - p.enqueuedNanos) / 1_000);
        p.future.complete(Collections.singleton(prediction));
    }

    /**
     * A one-line description of a failure: the root cause's type and the most telling line of its message (for a
     * TorchScript failure the final "RuntimeError: ..." line rather than the traceback).
     */
    static String describe(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String message = root.getMessage() == null ? "" : root.getMessage().strip();
        String[] lines = message.split("\\R");
        String line = lines.length == 0 ? "" : lines[0].strip();
        for (int i = lines.length - 1; i > 0; i--) {
            if (lines[i].matches("^\\s*\\w*(Error|Exception): .*")) {
                line = lines[i].strip();
                break;
            }
        }
        String text = root.getClass().getSimpleName() + (line.isEmpty() ? "" : ": " + line);
        return text.length() > 300 ? text.substring(0, 300) + "..." : text;
    }

    /** One request between asyncInvoke and its completion. */
    private static final class Pending {
        final ScoringRequest request;
        final ResultFuture<Prediction> future;
        final long enqueuedNanos;
        private final AtomicBoolean done = new AtomicBoolean();

        Pending(ScoringRequest request, ResultFuture<Prediction> future, long enqueuedNanos) {
            this.request = request;
            this.future = future;
            this.enqueuedNanos = enqueuedNanos;
        }

        boolean finish() {
            return done.compareAndSet(false, true);
        }

        boolean isDone() {
            return done.get();
        }
    }

    /** Runs on one worker thread with that thread's scorer. */
    private final class WorkerHandler implements MicroBatcher.BatchHandler<Pending> {
        private final BatchScorer scorer;

        WorkerHandler(BatchScorer scorer) {
            this.scorer = scorer;
        }

        @Override
        public void handle(List<Pending> batch) {
            List<Pending> live = new ArrayList<>(batch.size());
            for (Pending p : batch) {
                if (!p.isDone()) { // its timeout already answered it
                    live.add(p);
                }
            }
            if (live.isEmpty()) {
                return;
            }
            try {
                float[][] rows = new float[live.size()][];
                for (int i = 0; i < rows.length; i++) {
                    rows[i] = live.get(i).request.features;
                }
                batchSize.update(rows.length);
                float[][] scores = scorer.score(rows);
                if (scores == null || scores.length != rows.length) {
                    throw new IllegalStateException("model returned " + (scores == null ? "nothing" : scores.length + " rows")
                            + " for " + rows.length);
                }
                long now = System.currentTimeMillis();
                for (int i = 0; i < rows.length; i++) {
                    completeWithScores(live.get(i), scores[i], now);
                }
            } catch (Throwable t) {
                modelErrors.inc();
                String reason = "model error: " + describe(t);
                LOG.warn("Inference failed on a batch of {}; answering it with class priors: {}", live.size(), reason);
                for (Pending p : live) {
                    completeWithFallback(p, reason);
                }
                if (t instanceof InterruptedException) {
                    Thread.currentThread().interrupt();
                }
            }
        }

        @Override
        public void close() {
            scorer.close();
        }
    }
}
