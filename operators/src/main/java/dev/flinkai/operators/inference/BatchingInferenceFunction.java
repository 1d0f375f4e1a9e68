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
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Async model inference on micro-batches. Each input is a list of requests (made by {@link MicroBatchOperator} on the
 * task thread); {@link #asyncInvoke} only hands the list to a worker thread, which scores it in one model call with its
 * own DJL predictor and completes the list's future with one {@link Prediction} per request.
 *
 * <p>Every request is answered exactly once, with either the model's answer or a fallback (the model's class priors,
 * {@code fallback=true}, a {@code fallbackReason}):
 * <ul>
 *   <li>requests whose features are missing or of the wrong width get a fallback and never reach the model;</li>
 *   <li>when the model fails on a batch, every request of that batch gets a fallback naming the error;</li>
 *   <li>when a batch is not answered within the async operator's timeout, its requests get a fallback ("timeout after
 *       X ms") instead of failing the job, and a worker skips the batch if it has not started it.</li>
 * </ul>
 *
 * <p>Metrics, in the subgroup {@code inference}: histograms {@code batchSize} (requests per model call) and
 * {@code latencyMicros} (per batch: asyncInvoke to completion, any outcome); gauges {@code inFlight} (requests) and
 * {@code queued} (batches waiting for a worker); counters {@code predictions} (model answers), {@code fallbacks} (all
 * fallbacks), {@code timeouts} (requests answered by the timeout), {@code modelErrors} (failed batches) and
 * {@code invalidRequests}.
 */
public class BatchingInferenceFunction extends RichAsyncFunction<List<ScoringRequest>, Prediction> {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(BatchingInferenceFunction.class);
    private static final int HISTOGRAM_WINDOW = 10_000;

    private final InferenceSettings settings;
    private final long timeoutMillis;

    private transient ServedModel model;
    private transient WorkerPool<Batch> workers;
    private transient Map<ResultFuture<Prediction>, Batch> unanswered; // handed to a worker, not yet answered
    private transient AtomicInteger inFlight;
    private transient Counter predictions;
    private transient Counter fallbacks;
    private transient Counter timeouts;
    private transient Counter modelErrors;
    private transient Counter invalidRequests;
    private transient Histogram batchSize;
    private transient Histogram latencyMicros;

    /**
     * @param timeout how long a batch may wait for the model before its requests are answered with fallbacks (the async
     *                operator's timeout: {@link #apply} sets it)
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
     * Groups {@code requests} into the batches this function scores: up to {@code maxSize} requests, waiting at most
     * {@code maxWait} for a batch to fill (see {@link MicroBatchOperator}). The caller sets uid and name.
     */
    public static SingleOutputStreamOperator<List<ScoringRequest>> batches(DataStream<ScoringRequest> requests,
                                                                          int maxSize, Duration maxWait) {
        return requests.transform("micro-batch", ScoringBatchSerializer.TYPE, new MicroBatchOperator<>(maxSize, maxWait));
    }

    /**
     * Adds unordered async inference to {@code batches}. The caller sets uid, name and parallelism on the result. The
     * output type is extracted by Flink (an Avro type: needs flink-avro on the job's classpath).
     *
     * @param timeout  per-batch timeout; a batch still unanswered by then gets fallback predictions
     * @param capacity maximum batches in flight per subtask (keep it at or below {@code settings.queueCapacity()})
     */
    public static SingleOutputStreamOperator<Prediction> apply(DataStream<List<ScoringRequest>> batches,
                                                               InferenceSettings settings, Duration timeout, int capacity) {
        return AsyncDataStream.unorderedWait(batches, new BatchingInferenceFunction(settings, timeout),
                timeout.toMillis(), TimeUnit.MILLISECONDS, capacity);
    }

    /**
     * As {@link #apply(DataStream, InferenceSettings, Duration, int)} with a prepared function (e.g. a subclass) and an
     * explicit output type, so no type extraction happens. Builds the same operator as
     * {@link AsyncDataStream#unorderedWait}, with the function's timeout.
     */
    public static SingleOutputStreamOperator<Prediction> apply(DataStream<List<ScoringRequest>> batches,
                                                               BatchingInferenceFunction function, int capacity,
                                                               TypeInformation<Prediction> outputType) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be >= 1, got " + capacity);
        }
        return batches.transform("async wait operator", outputType, new AsyncWaitOperatorFactory<>(
                batches.getExecutionEnvironment().clean(function), function.timeoutMillis, capacity,
                AsyncDataStream.OutputMode.UNORDERED));
    }

    @Override
    public void open(OpenContext openContext) throws Exception {
        int subtask = getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
        model = ServedModel.open(settings, "subtask-" + subtask);
        unanswered = new ConcurrentHashMap<>();
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

        workers = new WorkerPool<>("inference-" + subtask, settings.queueCapacity(), settings.workers(),
                i -> new WorkerHandler(createWorkerScorer(model.scorer())));
        group.gauge("queued", (Gauge<Integer>) () -> workers.queued());
        workers.start();
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
    public void asyncInvoke(List<ScoringRequest> requests, ResultFuture<Prediction> resultFuture) throws Exception {
        inFlight.addAndGet(requests.size());
        List<ScoringRequest> scorable = requests;
        List<Prediction> refused = List.of();
        if (!allScorable(requests)) { // the rare path: split the batch
            scorable = new ArrayList<>(requests.size());
            refused = new ArrayList<>();
            for (ScoringRequest r : requests) {
                String invalid = model.invalidFeatures(r);
                if (invalid == null) {
                    scorable.add(r);
                } else {
                    invalidRequests.inc();
                    fallbacks.inc();
                    refused.add(model.fallback(r, invalid));
                }
            }
        }
        Batch batch = new Batch(scorable, refused, requests.size(), resultFuture, System.nanoTime());
        if (scorable.isEmpty()) {
            complete(batch, refused);
            return;
        }
        unanswered.put(resultFuture, batch);
        workers.submit(batch);
    }

    private boolean allScorable(List<ScoringRequest> requests) {
        for (ScoringRequest r : requests) {
            if (model.invalidFeatures(r) != null) {
                return false;
            }
        }
        return true;
    }

    /** The async operator's timer for this batch fired (on the task thread): answer what is still open with fallbacks. */
    @Override
    public void timeout(List<ScoringRequest> requests, ResultFuture<Prediction> resultFuture) {
        Batch batch = unanswered.get(resultFuture);
        if (batch == null || batch.isDone()) {
            return; // being completed by its worker right now
        }
        String reason = "timeout after " + timeoutMillis + " ms";
        List<Prediction> answers = new ArrayList<>(batch.total);
        answers.addAll(batch.refused);
        for (ScoringRequest r : batch.scorable) {
            answers.add(model.fallback(r, reason));
        }
        if (complete(batch, answers)) {
            timeouts.inc(batch.scorable.size());
            fallbacks.inc(batch.scorable.size());
        }
    }

    @Override
    public void close() throws Exception {
        try {
            if (workers != null) {
                workers.close();
            }
        } finally {
            workers = null;
            if (model != null) {
                model.close();
                model = null;
            }
        }
    }

    /** Completes the batch's future unless it was completed before; true if this call completed it. */
    private boolean complete(Batch batch, List<Prediction> answers) {
        if (!batch.finish()) {
            return false;
        }
        unanswered.remove(batch.future);
        inFlight.addAndGet(-batch.total);
        latencyMicros.update((System.nanoTime() - batch.startNanos) / 1_000);
        batch.future.complete(answers);
        return true;
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

    /** One list of requests between asyncInvoke and its completion. */
    private static final class Batch {
        final List<ScoringRequest> scorable;
        /** Fallbacks for requests that could not be scored, sent along with the model's answers. */
        final List<Prediction> refused;
        final int total;
        final ResultFuture<Prediction> future;
        final long startNanos;
        private final AtomicBoolean done = new AtomicBoolean();

        Batch(List<ScoringRequest> scorable, List<Prediction> refused, int total, ResultFuture<Prediction> future,
              long startNanos) {
            this.scorable = scorable;
            this.refused = refused;
            this.total = total;
            this.future = future;
            this.startNanos = startNanos;
        }

        boolean finish() {
            return done.compareAndSet(false, true);
        }

        boolean isDone() {
            return done.get();
        }
    }

    /** Runs on one worker thread with that thread's scorer. */
    private final class WorkerHandler implements WorkerPool.Handler<Batch> {
        private final BatchScorer scorer;

        WorkerHandler(BatchScorer scorer) {
            this.scorer = scorer;
        }

        @Override
        public void handle(Batch batch) {
            if (batch.isDone()) { // its timeout already answered it
                return;
            }
            List<ScoringRequest> requests = batch.scorable;
            List<Prediction> answers = new ArrayList<>(batch.total);
            answers.addAll(batch.refused);
            try {
                float[][] rows = new float[requests.size()][];
                for (int i = 0; i < rows.length; i++) {
                    rows[i] = requests.get(i).features;
                }
                batchSize.update(rows.length);
                float[][] scores = scorer.score(rows);
                if (scores == null || scores.length != rows.length) {
                    throw new IllegalStateException("model returned " + (scores == null ? "nothing" : scores.length + " rows")
                            + " for " + rows.length);
                }
                long now = System.currentTimeMillis();
                for (int i = 0; i < rows.length; i++) {
                    answers.add(model.prediction(requests.get(i), scores[i], now));
                }
                if (complete(batch, answers)) {
                    predictions.inc(rows.length);
                }
            } catch (Throwable t) {
                modelErrors.inc();
                String reason = "model error: " + describe(t);
                LOG.warn("Inference failed on a batch of {}; answering it with class priors: {}", requests.size(), reason);
                answers.subList(batch.refused.size(), answers.size()).clear();
                for (ScoringRequest r : requests) {
                    answers.add(model.fallback(r, reason));
                }
                if (complete(batch, answers)) {
                    fallbacks.inc(requests.size());
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
