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

import java.io.Serializable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Async model inference on micro-batches. Each input is a list of requests (made by {@link MicroBatchOperator} on the
 * task thread); {@link #asyncInvoke} hands the list's features to a {@link ModelClient} in one call and completes the
 * list's future with one {@link Prediction} per request when the client answers. It knows nothing of the backend.
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
 * <p>Lanes ({@link Lanes}): with a priority lane, batches of priority requests ({@code priority > 0}; the micro-batcher
 * never mixes lanes in a batch) go to a model client of their own, so they never wait behind normal batches for a
 * model worker or a connection. A shedding normal lane answers a batch at once with fallbacks ("shed: ...") instead
 * of calling its client while its share of the calls is taken: under overload (a model slower than the input) normal
 * traffic degrades instead of holding the stream back, priority traffic included, as the async operator never fills.
 * Without shedding, a slow model holds the stream back (backpressure), both lanes alike.
 *
 * <p>Metrics, per lane in the group {@code inference.lane} (label {@code lane}: normal, priority): histograms
 * {@code batchSize} (requests per model call), {@code latencyMicros} (per batch: asyncInvoke to completion, any
 * outcome) and {@code endToEndMillis} (per request: answer time minus the event's ingest time); gauge {@code inFlight}
 * (requests); counters {@code predictions} (model answers), {@code fallbacks} (all fallbacks), {@code timeouts}
 * (requests answered by the timeout), {@code shed}, {@code modelErrors} (failed batches) and
 * {@code invalidRequests}; and the lane's client's own.
 */
public class BatchingInferenceFunction extends RichAsyncFunction<List<ScoringRequest>, Prediction> {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(BatchingInferenceFunction.class);
    private static final int HISTOGRAM_WINDOW = 10_000;

    /**
     * How the function splits its work, in model calls (batches) in flight per subtask.
     *
     * @param normalCalls   the normal lane's calls in flight at most
     * @param shed          whether the normal lane sheds a batch when all its calls are taken (else the batch waits)
     * @param priorityCalls the priority lane's calls in flight at most; 0: no priority lane
     */
    public record Lanes(int normalCalls, boolean shed, int priorityCalls) implements Serializable {
        /** One lane that never sheds. */
        public static Lanes one(int calls) {
            return new Lanes(calls, false, 0);
        }

        /** The async operator's capacity: every call, and room for the batches a shedding lane answers at once. */
        public int asyncCapacity() {
            return normalCalls * (shed ? 2 : 1) + priorityCalls;
        }
    }

    private final ModelSettings settings;
    private final ModelClientFactory clients;
    private final int featureCount;
    private final String featureLayout;
    private final long timeoutMillis;
    private final Lanes lanes;

    private transient Lane normal;
    private transient Lane priority;
    private transient Map<ResultFuture<Prediction>, Batch> unanswered; // handed to a client, not yet answered

    /** One lane: every batch goes to one client (as many calls as the settings' queue holds), nothing is shed. */
    public BatchingInferenceFunction(ModelSettings settings, ModelClientFactory clients, int featureCount,
                                     String featureLayout, Duration timeout) {
        this(settings, clients, featureCount, featureLayout, timeout, Lanes.one(settings.queueCapacity()));
    }

    /**
     * @param featureCount  how many features the requests carry: a model that takes another number is refused
     * @param featureLayout how that number comes about, for the message when it is refused
     * @param timeout       how long a batch may wait for the model before its requests are answered with fallbacks
     *                      (the async operator's timeout: {@link #apply} sets it)
     */
    public BatchingInferenceFunction(ModelSettings settings, ModelClientFactory clients, int featureCount,
                                     String featureLayout, Duration timeout, Lanes lanes) {
        this.settings = Objects.requireNonNull(settings, "settings");
        settings.validate();
        this.clients = Objects.requireNonNull(clients, "clients");
        this.featureCount = featureCount;
        this.featureLayout = featureLayout;
        this.lanes = Objects.requireNonNull(lanes, "lanes");
        if (timeout.toMillis() < 1) {
            throw new IllegalArgumentException("timeout must be >= 1 ms, got " + timeout);
        }
        this.timeoutMillis = timeout.toMillis();
    }

    /**
     * Groups {@code requests} into the batches this function scores: up to {@code maxSize} requests, waiting at most
     * {@code maxWait} for a batch to fill (see {@link MicroBatchOperator}). With {@code priorityMaxWait}, requests of
     * priority above 0 fill batches of their own that wait at most that long. The caller sets uid and name.
     *
     * @param priorityMaxWait null for one lane
     */
    public static SingleOutputStreamOperator<List<ScoringRequest>> batches(DataStream<ScoringRequest> requests,
                                                                          int maxSize, Duration maxWait,
                                                                          Duration priorityMaxWait) {
        MicroBatchOperator.Lanes<ScoringRequest> lanes = priorityMaxWait == null ? null
                : new MicroBatchOperator.Lanes<>(BatchingInferenceFunction::isPriority, priorityMaxWait);
        return requests.transform("micro-batch", ScoringBatchSerializer.TYPE,
                new MicroBatchOperator<>(maxSize, maxWait, lanes));
    }

    static boolean isPriority(ScoringRequest request) {
        return request.priority > 0;
    }

    /**
     * Adds unordered async inference with {@code function} to {@code batches}, with the function's timeout. The caller
     * sets uid, name and parallelism on the result.
     *
     * @param capacity maximum batches in flight per subtask, both lanes together
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
        MetricGroup inference = getRuntimeContext().getMetricGroup().addGroup("inference");
        unanswered = new ConcurrentHashMap<>();
        try {
            // A lane's client may see as many calls as the async operator holds: the operator is what bounds them.
            ModelSettings laneSettings = settings.forCalls(lanes.asyncCapacity());
            normal = new Lane("normal", lanes.shed() ? lanes.normalCalls() : 0, clients, laneSettings,
                    "subtask-" + subtask, inference);
            requireFits(normal.model, featureCount, featureLayout);
            if (lanes.priorityCalls() > 0) {
                priority = new Lane("priority", 0, clients, laneSettings, "subtask-" + subtask + "-priority", inference);
                requireSameModel(normal.model, priority.model);
            }
        } catch (Exception | Error e) {
            close();
            throw e;
        }
        LOG.info("Inference subtask {} serves {} {} from {} with {} and {}", subtask, normal.model.name(),
                normal.model.version(), settings.modelUri(), settings, lanes);
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

    private static void requireSameModel(ModelMetadata a, ModelMetadata b) {
        if (a.featureCount() != b.featureCount() || !a.labels().equals(b.labels())) {
            throw new IllegalStateException("The lanes' clients serve different models: " + a + " and " + b);
        }
    }

    @Override
    public void asyncInvoke(List<ScoringRequest> requests, ResultFuture<Prediction> resultFuture) {
        Lane lane = priority != null && !requests.isEmpty() && isPriority(requests.get(0)) ? priority : normal;
        lane.inFlight.addAndGet(requests.size());
        List<ScoringRequest> scorable = requests;
        List<Prediction> refused = List.of();
        if (!allScorable(requests, lane.model)) { // the rare path: split the batch
            scorable = new ArrayList<>(requests.size());
            refused = new ArrayList<>();
            for (ScoringRequest r : requests) {
                String invalid = Predictions.invalidFeatures(r, lane.model);
                if (invalid == null) {
                    scorable.add(r);
                } else {
                    lane.invalidRequests.inc();
                    lane.fallbacks.inc();
                    refused.add(Predictions.priors(r, lane.model, invalid));
                }
            }
        }
        Batch batch = new Batch(lane, scorable, refused, requests.size(), resultFuture, System.nanoTime());
        if (scorable.isEmpty()) {
            complete(batch, refused);
            return;
        }
        if (lane.shedAbove > 0 && lane.calls.get() >= lane.shedAbove) {
            answerWithPriors(batch, "shed: all " + lane.shedAbove + " calls to the model are taken");
            lane.shed.inc(scorable.size());
            return;
        }
        lane.calls.incrementAndGet();
        batch.calling = true;
        float[][] rows = new float[scorable.size()][];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = scorable.get(i).features;
        }
        lane.batchSize.update(rows.length);
        unanswered.put(resultFuture, batch);
        batch.call = lane.client.score(rows, batch.startNanos + TimeUnit.MILLISECONDS.toNanos(timeoutMillis));
        batch.call.whenComplete((answer, failure) -> answered(batch, answer, failure));
    }

    private static boolean allScorable(List<ScoringRequest> requests, ModelMetadata model) {
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
        String problem = failure != null ? Predictions.describe(unwrap(failure)) : wrongShape(answer, requests.size());
        if (problem != null) {
            String reason = "model error: " + problem;
            LOG.warn("Inference failed on a batch of {}; answering it with class priors: {}", requests.size(), reason);
            if (answerWithPriors(batch, reason)) {
                batch.lane.modelErrors.inc();
            }
            return;
        }
        List<Prediction> answers = new ArrayList<>(batch.total);
        answers.addAll(batch.refused);
        long now = System.currentTimeMillis();
        for (int i = 0; i < requests.size(); i++) {
            answers.add(Predictions.scored(requests.get(i), answer.scores()[i], answer.model(), answer.servedBy(),
                    answer.fallbackReason(), now));
        }
        if (complete(batch, answers)) {
            (answer.fallbackReason() == null ? batch.lane.predictions : batch.lane.fallbacks).inc(requests.size());
        }
    }

    /** Answers the batch's scorable requests with the class priors; true if this call completed the batch. */
    private boolean answerWithPriors(Batch batch, String reason) {
        List<Prediction> answers = new ArrayList<>(batch.total);
        answers.addAll(batch.refused);
        for (ScoringRequest r : batch.scorable) {
            answers.add(Predictions.priors(r, batch.lane.model, reason));
        }
        if (complete(batch, answers)) {
            batch.lane.fallbacks.inc(batch.scorable.size());
            return true;
        }
        return false;
    }

    private static Throwable unwrap(Throwable failure) {
        return failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
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
        if (answerWithPriors(batch, "timeout after " + timeoutMillis + " ms")) {
            batch.lane.timeouts.inc(batch.scorable.size());
            batch.call.cancel(false);
        }
    }

    @Override
    public void close() throws Exception {
        try {
            if (priority != null) {
                priority.client.close();
            }
        } finally {
            priority = null;
            if (normal != null) {
                normal.client.close();
                normal = null;
            }
        }
    }

    /** Completes the batch's future unless it was completed before; true if this call completed it. */
    private boolean complete(Batch batch, List<Prediction> answers) {
        if (!batch.finish()) {
            return false;
        }
        unanswered.remove(batch.future);
        batch.lane.inFlight.addAndGet(-batch.total);
        if (batch.calling) {
            batch.lane.calls.decrementAndGet();
        }
        batch.lane.latencyMicros.update((System.nanoTime() - batch.startNanos) / 1_000);
        long now = System.currentTimeMillis();
        for (Prediction p : answers) {
            batch.lane.endToEndMillis.update(now - p.getIngestTimeMillis());
        }
        batch.future.complete(answers);
        return true;
    }

    /** A lane's client, what it serves, and its metrics. */
    private static final class Lane {
        final ModelClient client;
        final ModelMetadata model;
        /** Calls in flight above which a new batch is shed; 0: never. */
        final int shedAbove;
        final AtomicInteger inFlight = new AtomicInteger();
        final AtomicInteger calls = new AtomicInteger();
        final Counter predictions;
        final Counter fallbacks;
        final Counter timeouts;
        final Counter shed;
        final Counter modelErrors;
        final Counter invalidRequests;
        final Histogram batchSize;
        final Histogram latencyMicros;
        final Histogram endToEndMillis;

        Lane(String name, int shedAbove, ModelClientFactory clients, ModelSettings settings, String owner,
             MetricGroup inference) throws Exception {
            MetricGroup group = inference.addGroup("lane", name);
            this.client = Objects.requireNonNull(clients.open(settings, owner, group), "client");
            this.model = client.metadata();
            this.shedAbove = shedAbove;
            predictions = group.counter("predictions");
            fallbacks = group.counter("fallbacks");
            timeouts = group.counter("timeouts");
            shed = group.counter("shed");
            modelErrors = group.counter("modelErrors");
            invalidRequests = group.counter("invalidRequests");
            batchSize = group.histogram("batchSize", new SynchronizedHistogram(HISTOGRAM_WINDOW));
            latencyMicros = group.histogram("latencyMicros", new SynchronizedHistogram(HISTOGRAM_WINDOW));
            endToEndMillis = group.histogram("endToEndMillis", new SynchronizedHistogram(HISTOGRAM_WINDOW));
            group.gauge("inFlight", (Gauge<Integer>) inFlight::get);
        }
    }

    /** One list of requests between asyncInvoke and its completion. */
    private static final class Batch {
        final Lane lane;
        final List<ScoringRequest> scorable;
        /** Fallbacks for requests that could not be scored, sent along with the model's answers. */
        final List<Prediction> refused;
        final int total;
        final ResultFuture<Prediction> future;
        final long startNanos;
        CompletableFuture<ModelAnswer> call;
        /** Counted in its lane's calls until it completes. */
        boolean calling;
        private final AtomicBoolean done = new AtomicBoolean();

        Batch(Lane lane, List<ScoringRequest> scorable, List<Prediction> refused, int total,
              ResultFuture<Prediction> future, long startNanos) {
            this.lane = lane;
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
