package dev.flinkai.operators.inference;

import dev.flinkai.operators.features.ScoringRequest;
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
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Async model inference on micro-batches. Each input is a list of requests (made by {@link MicroBatchOperator} on the
 * task thread); {@link #asyncInvoke} hands the list's features to the {@link ModelClient} in one call and completes
 * the list's future with one {@link Prediction} per request when the client answers. It knows nothing of the backend.
 *
 * <p>Every request is answered exactly once, with either the model's answer or a fallback (the model's class priors,
 * {@code fallback=true}, a {@code fallbackReason}):
 * <ul>
 *   <li>requests whose features are missing or of the wrong width get a fallback and never reach the model;</li>
 *   <li>when the model fails on a batch, every request of that batch gets a fallback naming the error;</li>
 *   <li>when a batch is not answered within the async operator's timeout, its requests get a fallback ("timeout after
 *       X ms") instead of failing the job, and the client's call is cancelled.</li>
 * </ul>
 *
 * <p>At open it refuses a model whose feature count differs from what the job's features have, naming both.
 *
 * <p>Metrics, in the subgroup {@code inference}: histograms {@code batchSize} (requests per model call) and
 * {@code latencyMicros} (per batch: asyncInvoke to completion, any outcome); gauge {@code inFlight} (requests);
 * counters {@code predictions} (model answers), {@code fallbacks} (all fallbacks), {@code timeouts} (requests answered
 * by the timeout), {@code modelErrors} (failed batches) and {@code invalidRequests}; and the client's own.
 */
public class BatchingInferenceFunction extends RichAsyncFunction<List<ScoringRequest>, Prediction> {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(BatchingInferenceFunction.class);
    private static final int HISTOGRAM_WINDOW = 10_000;

    private final ModelSettings settings;
    private final ModelClientFactory clients;
    private final int featureCount;
    private final String featureLayout;
    private final long timeoutMillis;

    private transient ModelClient client;
    private transient ModelMetadata model;
    private transient Map<ResultFuture<Prediction>, Batch> unanswered; // handed to the client, not yet answered
    private transient AtomicInteger inFlight;
    private transient Counter predictions;
    private transient Counter fallbacks;
    private transient Counter timeouts;
    private transient Counter modelErrors;
    private transient Counter invalidRequests;
    private transient Histogram batchSize;
    private transient Histogram latencyMicros;

    /**
     * @param featureCount  how many features the requests carry: a model that takes another number is refused
     * @param featureLayout how that number comes about, for the message when it is refused
     * @param timeout       how long a batch may wait for the model before its requests are answered with fallbacks
     *                      (the async operator's timeout: {@link #apply} sets it)
     */
    public BatchingInferenceFunction(ModelSettings settings, ModelClientFactory clients, int featureCount,
                                     String featureLayout, Duration timeout) {
        this.settings = Objects.requireNonNull(settings, "settings");
        settings.validate();
        this.clients = Objects.requireNonNull(clients, "clients");
        this.featureCount = featureCount;
        this.featureLayout = featureLayout;
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
     * Adds unordered async inference with {@code function} to {@code batches}, with the function's timeout. The caller
     * sets uid, name and parallelism on the result.
     *
     * @param capacity maximum batches in flight per subtask (keep it at or below {@code settings.queueCapacity()})
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
        MetricGroup group = getRuntimeContext().getMetricGroup().addGroup("inference");
        client = clients.open(settings, "subtask-" + subtask, group);
        model = client.metadata();
        try {
            requireFits(model, featureCount, featureLayout);
        } catch (IllegalStateException e) {
            close();
            throw e;
        }
        unanswered = new ConcurrentHashMap<>();
        inFlight = new AtomicInteger();
        predictions = group.counter("predictions");
        fallbacks = group.counter("fallbacks");
        timeouts = group.counter("timeouts");
        modelErrors = group.counter("modelErrors");
        invalidRequests = group.counter("invalidRequests");
        batchSize = group.histogram("batchSize", new SynchronizedHistogram(HISTOGRAM_WINDOW));
        latencyMicros = group.histogram("latencyMicros", new SynchronizedHistogram(HISTOGRAM_WINDOW));
        group.gauge("inFlight", (Gauge<Integer>) () -> inFlight.get());
        LOG.info("Inference subtask {} serves {} {} from {} with {}", subtask, model.name(), model.version(),
                settings.modelUri(), settings);
    }

    /**
     * Refuses a model that takes another number of features than the requests carry, naming both and how the
     * requests' number comes about: the job's main and this function's open both run it.
     */
    public static void requireFits(ModelMetadata model, int featureCount, String featureLayout) {
        if (model.featureCount() != featureCount) {
            throw new IllegalStateException("The model " + model.name() + " " + model.version() + " takes "
                    + model.featureCount() + " features, but the job's features are " + featureLayout
                    + ": train the model on this build's features (notebooks/train_next_event_model.ipynb) or serve "
                    + "one that fits");
        }
    }

    @Override
    public void asyncInvoke(List<ScoringRequest> requests, ResultFuture<Prediction> resultFuture) {
        inFlight.addAndGet(requests.size());
        List<ScoringRequest> scorable = requests;
        List<Prediction> refused = List.of();
        if (!allScorable(requests)) { // the rare path: split the batch
            scorable = new ArrayList<>(requests.size());
            refused = new ArrayList<>();
            for (ScoringRequest r : requests) {
                String invalid = Predictions.invalidFeatures(r, model);
                if (invalid == null) {
                    scorable.add(r);
                } else {
                    invalidRequests.inc();
                    fallbacks.inc();
                    refused.add(Predictions.priors(r, model, invalid));
                }
            }
        }
        Batch batch = new Batch(scorable, refused, requests.size(), resultFuture, System.nanoTime());
        if (scorable.isEmpty()) {
            complete(batch, refused);
            return;
        }
        float[][] rows = new float[scorable.size()][];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = scorable.get(i).features;
        }
        batchSize.update(rows.length);
        unanswered.put(resultFuture, batch);
        batch.call = client.score(rows, batch.startNanos + TimeUnit.MILLISECONDS.toNanos(timeoutMillis));
        batch.call.whenComplete((answer, failure) -> answered(batch, answer, failure));
    }

    private boolean allScorable(List<ScoringRequest> requests) {
        for (ScoringRequest r : requests) {
            if (Predictions.invalidFeatures(r, model) != null) {
                return false;
            }
        }
        return true;
    }

    /** The client's answer or failure, on whatever thread completed its future. */
    private void answered(Batch batch, ModelAnswer answer, Throwable failure) {
        if (failure instanceof CancellationException || batch.isDone()) {
            return; // the timeout answered it
        }
        List<ScoringRequest> requests = batch.scorable;
        List<Prediction> answers = new ArrayList<>(batch.total);
        answers.addAll(batch.refused);
        String problem = failure != null ? describeFailure(failure) : wrongShape(answer, requests.size());
        if (problem == null) {
            long now = System.currentTimeMillis();
            for (int i = 0; i < requests.size(); i++) {
                answers.add(Predictions.scored(requests.get(i), answer.scores()[i], answer.model(),
                        answer.fallbackReason(), now));
            }
            if (complete(batch, answers)) {
                (answer.fallbackReason() == null ? predictions : fallbacks).inc(requests.size());
            }
            return;
        }
        String reason = "model error: " + problem;
        LOG.warn("Inference failed on a batch of {}; answering it with class priors: {}", requests.size(), reason);
        for (ScoringRequest r : requests) {
            answers.add(Predictions.priors(r, model, reason));
        }
        if (complete(batch, answers)) {
            modelErrors.inc();
            fallbacks.inc(requests.size());
        }
    }

    private static String describeFailure(Throwable failure) {
        return Predictions.describe(failure instanceof java.util.concurrent.CompletionException && failure.getCause() != null
                ? failure.getCause() : failure);
    }

    /** Null when the answer has one row of one probability per label for each request. */
    private static String wrongShape(ModelAnswer answer, int rows) {
        float[][] scores = answer == null ? null : answer.scores();
        if (scores == null || scores.length != rows) {
            return "IllegalStateException: model returned " + (scores == null ? "nothing" : scores.length + " rows")
                    + " for " + rows;
        }
        int classes = answer.model().classCount();
        for (float[] row : scores) {
            if (row == null || row.length != classes) {
                return "IllegalStateException: model returned a row of " + (row == null ? "nothing" : row.length
                        + " values") + " for " + classes + " labels";
            }
        }
        return null;
    }

    /** The async operator's timer for this batch fired (on the task thread): answer what is still open with fallbacks. */
    @Override
    public void timeout(List<ScoringRequest> requests, ResultFuture<Prediction> resultFuture) {
        Batch batch = unanswered.get(resultFuture);
        if (batch == null || batch.isDone()) {
            return; // being completed by its answer right now
        }
        String reason = "timeout after " + timeoutMillis + " ms";
        List<Prediction> answers = new ArrayList<>(batch.total);
        answers.addAll(batch.refused);
        for (ScoringRequest r : batch.scorable) {
            answers.add(Predictions.priors(r, model, reason));
        }
        if (complete(batch, answers)) {
            timeouts.inc(batch.scorable.size());
            fallbacks.inc(batch.scorable.size());
            batch.call.cancel(false);
        }
    }

    @Override
    public void close() throws Exception {
        if (client != null) {
            client.close();
            client = null;
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

    /** One list of requests between asyncInvoke and its completion. */
    private static final class Batch {
        final List<ScoringRequest> scorable;
        /** Fallbacks for requests that could not be scored, sent along with the model's answers. */
        final List<Prediction> refused;
        final int total;
        final ResultFuture<Prediction> future;
        final long startNanos;
        CompletableFuture<ModelAnswer> call;
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
}
