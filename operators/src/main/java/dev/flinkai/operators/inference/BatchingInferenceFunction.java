package dev.flinkai.operators.inference;

import dev.flinkai.operators.features.FeatureLayout;
import dev.flinkai.operators.features.ScoringRequest;
import dev.flinkai.schemas.ModelEvent;
import dev.flinkai.schemas.ModelEventKind;
import dev.flinkai.schemas.ModelUpdate;
import dev.flinkai.schemas.Prediction;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.BroadcastState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.typeutils.EitherTypeInfo;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.streaming.api.datastream.AsyncDataStream;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.functions.async.ResultFuture;
import org.apache.flink.streaming.api.functions.async.RichAsyncFunction;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.operators.async.AsyncWaitOperatorFactory;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.types.Either;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.Serializable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
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
 *   <li>requests whose features are missing or too few get a fallback and never reach the model;</li>
 *   <li>when the model fails on a batch, every request of that batch gets a fallback naming the error;</li>
 *   <li>when a batch is not answered within the async operator's timeout, its requests get a fallback ("timeout after
 *       X ms") instead of failing the job, and the client's call is cancelled.</li>
 * </ul>
 *
 * <p>Models that change while the job runs: a control request ({@link ScoringRequest#control}, alone in its list)
 * names a model version to serve. A loader thread opens it (fetch, SHA-256, load, or the endpoint's version), checks
 * it against the serving one (a feature count the job's {@link FeatureLayout} fits, the same labels, a smoke batch of
 * recent rows that gives one probability row per input) and only then switches: each batch is scored by the model that
 * served when it was invoked, so the switch falls between two batches; the old clients close when their calls end. A
 * version that fails a check is rejected and the serving one stays. The control's list is answered with what
 * happened, as {@link ModelEvent}s (LOADED and ACTIVE, or REJECTED with the reason), in the same output as the
 * predictions. The serving version lives in broadcast state, so a restore from a checkpoint or savepoint serves it
 * again; a control still being loaded is in the async operator's state and is loaded again. Every (re)start
 * announces what the subtask serves with an ACTIVE event along with its first answered batch.
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
 * {@code invalidRequests}. Each lane's client registers its own in the lane's group {@code model} (label
 * {@code model}: {@code configured}, or the version an update named). In {@code inference}: counters
 * {@code modelUpdatesLoaded} and {@code modelUpdatesRejected}.
 */
public class BatchingInferenceFunction extends RichAsyncFunction<List<ScoringRequest>, Either<Prediction, ModelEvent>>
        implements CheckpointedFunction {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(BatchingInferenceFunction.class);
    private static final int HISTOGRAM_WINDOW = 10_000;
    /** The label of the model the job was started with, in the client metrics' group {@code model}. */
    static final String CONFIGURED = "configured";
    private static final String SERVING_KEY = "serving";
    /** The model update served, when one is: what a restore serves again. */
    static final MapStateDescriptor<String, ModelUpdate> SERVING_STATE = new MapStateDescriptor<>("model-serving",
            Types.STRING, new AvroTypeInfo<>(ModelUpdate.class));
    /**
     * The configured model URI the served update stands in for: an update lasts until the job is started with another
     * configured model, which then wins (a deliberate change of {@code model.uri}, e.g. to a model server).
     */
    static final MapStateDescriptor<String, String> CONFIGURED_STATE = new MapStateDescriptor<>("model-configured",
            Types.STRING, Types.STRING);
    private static final Duration SMOKE_TIMEOUT = Duration.ofSeconds(30);
    private static final int SMOKE_ROWS = 64;

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
    private final FeatureLayout layout;
    private final long timeoutMillis;
    private final Lanes lanes;

    private transient int subtask;
    private transient Lane normal;
    private transient Lane priority;
    private transient volatile Served serving;
    private transient Map<ResultFuture<Either<Prediction, ModelEvent>>, Batch> unanswered; // handed to a client
    private transient ExecutorService loader;
    private transient BroadcastState<String, ModelUpdate> servingState;
    private transient BroadcastState<String, String> configuredState;
    private transient ModelUpdate restoredUpdate;
    /** Why a restored update is not served again: the configured model changed; null otherwise. */
    private transient String configurationChanged;
    /** Events to send with the next answered batch (what a (re)start serves). */
    private transient Queue<ModelEvent> announcements;
    private transient Map<String, Integer> opensByLabel;
    /** The rows of the latest batch: the smoke batch of a model update. */
    private transient volatile float[][] recentRows;
    private transient Counter updatesLoaded;
    private transient Counter updatesRejected;
    /** Every model whose clients are open: the serving one, and retired ones until their last call is answered. */
    private transient Set<Served> openModels;

    /** One lane: every batch goes to one client (as many calls as the settings' queue holds), nothing is shed. */
    public BatchingInferenceFunction(ModelSettings settings, ModelClientFactory clients, FeatureLayout layout,
                                     Duration timeout) {
        this(settings, clients, layout, timeout, Lanes.one(settings.queueCapacity()));
    }

    /**
     * @param layout  the features the requests carry: a model that takes a count it does not fit is refused
     * @param timeout how long a batch may wait for the model before its requests are answered with fallbacks
     *                (the async operator's timeout: {@link #apply} sets it)
     */
    public BatchingInferenceFunction(ModelSettings settings, ModelClientFactory clients, FeatureLayout layout,
                                     Duration timeout, Lanes lanes) {
        this.settings = Objects.requireNonNull(settings, "settings");
        settings.validate();
        this.clients = Objects.requireNonNull(clients, "clients");
        this.layout = Objects.requireNonNull(layout, "layout");
        this.lanes = Objects.requireNonNull(lanes, "lanes");
        if (timeout.toMillis() < 1) {
            throw new IllegalArgumentException("timeout must be >= 1 ms, got " + timeout);
        }
        this.timeoutMillis = timeout.toMillis();
    }

    /**
     * Groups {@code requests} into the batches this function scores: up to {@code maxSize} requests, waiting at most
     * {@code maxWait} for a batch to fill (see {@link MicroBatchOperator}); control requests pass alone. With
     * {@code priorityMaxWait}, requests of priority above 0 fill batches of their own that wait at most that long.
     * The caller sets uid and name.
     *
     * @param priorityMaxWait null for one lane
     */
    public static SingleOutputStreamOperator<List<ScoringRequest>> batches(DataStream<ScoringRequest> requests,
                                                                          int maxSize, Duration maxWait,
                                                                          Duration priorityMaxWait) {
        MicroBatchOperator.Lanes<ScoringRequest> lanes = priorityMaxWait == null ? null
                : new MicroBatchOperator.Lanes<>(BatchingInferenceFunction::isPriority, priorityMaxWait);
        return requests.transform("micro-batch", ScoringBatchSerializer.TYPE,
                new MicroBatchOperator<>(maxSize, maxWait, lanes, ScoringRequest::isControl));
    }

    static boolean isPriority(ScoringRequest request) {
        return request.priority > 0;
    }

    /** The function's output: predictions, and now and then an event about the model (see the class comment). */
    public static TypeInformation<Either<Prediction, ModelEvent>> outputType() {
        return new EitherTypeInfo<>(new AvroTypeInfo<>(Prediction.class), new AvroTypeInfo<>(ModelEvent.class));
    }

    /**
     * Adds unordered async inference with {@code function} to {@code batches}, with the function's timeout. The caller
     * sets uid, name and parallelism on the result, and splits it ({@link ModelEventSplitter}).
     *
     * @param capacity maximum batches in flight per subtask, both lanes together
     */
    public static SingleOutputStreamOperator<Either<Prediction, ModelEvent>> apply(
            DataStream<List<ScoringRequest>> batches, BatchingInferenceFunction function, int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be >= 1, got " + capacity);
        }
        return batches.transform("async wait operator", outputType(), new AsyncWaitOperatorFactory<>(
                batches.getExecutionEnvironment().clean(function), function.timeoutMillis, capacity,
                AsyncDataStream.OutputMode.UNORDERED));
    }

    @Override
    public void initializeState(FunctionInitializationContext context) throws Exception {
        servingState = context.getOperatorStateStore().getBroadcastState(SERVING_STATE);
        configuredState = context.getOperatorStateStore().getBroadcastState(CONFIGURED_STATE);
        restoredUpdate = context.isRestored() ? servingState.get(SERVING_KEY) : null;
        String configuredBefore = configuredState.get(SERVING_KEY);
        if (restoredUpdate != null && configuredBefore != null && !configuredBefore.equals(settings.modelUri())) {
            configurationChanged = "started: the configured model changed (was " + configuredBefore
                    + "), so the restored version " + restoredUpdate.getVersion() + " is not served";
            restoredUpdate = null;
        }
    }

    @Override
    public void snapshotState(FunctionSnapshotContext context) throws Exception {
        servingState.clear();
        configuredState.put(SERVING_KEY, settings.modelUri());
        ModelUpdate update = serving.update;
        if (update != null) {
            servingState.put(SERVING_KEY, update);
        }
    }

    @Override
    public void open(OpenContext openContext) throws Exception {
        subtask = getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
        MetricGroup inference = getRuntimeContext().getMetricGroup().addGroup("inference");
        unanswered = new ConcurrentHashMap<>();
        announcements = new ConcurrentLinkedQueue<>();
        opensByLabel = new HashMap<>();
        openModels = ConcurrentHashMap.newKeySet();
        updatesLoaded = inference.counter("modelUpdatesLoaded");
        updatesRejected = inference.counter("modelUpdatesRejected");
        normal = new Lane("normal", lanes.shed() ? lanes.normalCalls() : 0, inference);
        priority = lanes.priorityCalls() > 0 ? new Lane("priority", 0, inference) : null;
        loader = Executors.newSingleThreadExecutor(runnable -> {
            Thread thread = new Thread(runnable, "model-loader-subtask-" + subtask);
            thread.setDaemon(true);
            return thread;
        });
        try {
            serving = openFirst();
        } catch (Exception | Error e) {
            close();
            throw e;
        }
        LOG.info("Inference subtask {} serves {} {} from {} with {} and {}", subtask, serving.model.name(),
                serving.model.version(), serving.update == null ? settings.modelUri() : serving.update.getUri(),
                settings, lanes);
        announce(ModelEventKind.ACTIVE, serving.model, configurationChanged != null ? configurationChanged
                : restoredUpdate == null ? "started" : serving.update != null ? "restored" : "restored: the configured model");
    }

    /**
     * The restored model update if there is one and it still opens and fits; else the configured model, which must
     * fit (a job that cannot serve fails here, at the start).
     */
    private Served openFirst() throws Exception {
        if (restoredUpdate != null) {
            try {
                Served restored = openModel(restoredUpdate);
                checkFits(restored, null);
                return restored;
            } catch (Exception e) {
                String reason = "the restored version no longer serves (" + Predictions.describe(e)
                        + "): serving the configured model";
                LOG.error("Inference subtask {}: {}", subtask, reason, e);
                announcements.add(event(ModelEventKind.REJECTED, restoredUpdate.getModelName(),
                        restoredUpdate.getVersion(), reason));
            }
        }
        Served configured = openModel(null);
        try {
            layout.requireFits(configured.model);
            return configured;
        } catch (RuntimeException e) {
            configured.close();
            throw e;
        }
    }

    @Override
    public void asyncInvoke(List<ScoringRequest> requests, ResultFuture<Either<Prediction, ModelEvent>> resultFuture) {
        if (requests.size() == 1 && requests.get(0).isControl()) {
            ModelUpdate update = requests.get(0).modelUpdate;
            loader.execute(() -> resultFuture.complete(swapTo(update)));
            return;
        }
        Served served = acquireServing();
        Lane lane = priority != null && !requests.isEmpty() && isPriority(requests.get(0)) ? priority : normal;
        ModelClient client = lane == priority ? served.priorityClient : served.normalClient;
        lane.inFlight.addAndGet(requests.size());
        List<ScoringRequest> scorable = requests;
        List<Either<Prediction, ModelEvent>> refused = List.of();
        if (!allScorable(requests, served.model)) { // the rare path: split the batch
            scorable = new ArrayList<>(requests.size());
            refused = new ArrayList<>();
            for (ScoringRequest r : requests) {
                String invalid = Predictions.invalidFeatures(r, served.model);
                if (invalid == null) {
                    scorable.add(r);
                } else {
                    lane.invalidRequests.inc();
                    lane.fallbacks.inc();
                    refused.add(Either.Left(Predictions.priors(r, served.model, invalid)));
                }
            }
        }
        Batch batch = new Batch(lane, served, scorable, refused, requests.size(), resultFuture, System.nanoTime());
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
        recentRows = rows;
        lane.batchSize.update(rows.length);
        unanswered.put(resultFuture, batch);
        batch.call = client.score(rows, batch.startNanos + TimeUnit.MILLISECONDS.toNanos(timeoutMillis));
        batch.call.whenComplete((answer, failure) -> answered(batch, answer, failure));
    }

    /** The serving model, held for one batch (released when the batch completes), so a swap cannot close it. */
    private Served acquireServing() {
        while (true) {
            Served served = serving;
            if (served.acquire()) {
                return served;
            }
        }
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
        List<Either<Prediction, ModelEvent>> answers = new ArrayList<>(batch.total + 1);
        answers.addAll(batch.refused);
        long now = System.currentTimeMillis();
        for (int i = 0; i < requests.size(); i++) {
            answers.add(Either.Left(Predictions.scored(requests.get(i), answer.scores()[i], answer.model(),
                    answer.servedBy(), answer.fallbackReason(), now)));
        }
        if (complete(batch, answers)) {
            (answer.fallbackReason() == null ? batch.lane.predictions : batch.lane.fallbacks).inc(requests.size());
        }
    }

    /** Answers the batch's scorable requests with the class priors; true if this call completed the batch. */
    private boolean answerWithPriors(Batch batch, String reason) {
        List<Either<Prediction, ModelEvent>> answers = new ArrayList<>(batch.total + 1);
        answers.addAll(batch.refused);
        for (ScoringRequest r : batch.scorable) {
            answers.add(Either.Left(Predictions.priors(r, batch.served.model, reason)));
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

    /**
     * The async operator's timer for this batch fired (on the task thread): answer what is still open with fallbacks.
     * A model update is exempt: its loader answers it, however long fetching and checking take.
     */
    @Override
    public void timeout(List<ScoringRequest> requests, ResultFuture<Either<Prediction, ModelEvent>> resultFuture) {
        Batch batch = unanswered.get(resultFuture);
        if (batch == null || batch.isDone()) {
            return; // a model update, or being completed by its answer right now
        }
        if (answerWithPriors(batch, "timeout after " + timeoutMillis + " ms")) {
            batch.lane.timeouts.inc(batch.scorable.size());
            batch.call.cancel(false);
        }
    }

    // ---- model updates, on the loader thread ----

    /** Loads and checks {@code update}, then serves it; what happened, as events for the control's answer. */
    private List<Either<Prediction, ModelEvent>> swapTo(ModelUpdate update) {
        Served current = serving;
        if (current.update != null && current.update.getVersion().equals(update.getVersion())
                && current.update.getUri().equals(update.getUri())) {
            return List.of(Either.Right(event(ModelEventKind.ACTIVE, current.model, "already serving")));
        }
        Served candidate = null;
        try {
            candidate = openModel(update);
            checkFits(candidate, current.model);
            smokeTest(candidate);
        } catch (Exception | Error e) {
            if (candidate != null) {
                candidate.close();
            }
            updatesRejected.inc();
            String reason = Predictions.describe(e);
            LOG.warn("Inference subtask {} rejected {} {} from {}: {}", subtask, update.getModelName(),
                    update.getVersion(), update.getUri(), reason);
            return List.of(Either.Right(event(ModelEventKind.REJECTED, update.getModelName(), update.getVersion(),
                    reason)));
        }
        ModelEvent loaded = event(ModelEventKind.LOADED, candidate.model, update.getNotes());
        serving = candidate;
        current.retire();
        updatesLoaded.inc();
        LOG.info("Inference subtask {} switched from {} {} to {} {} ({})", subtask, current.model.name(),
                current.model.version(), candidate.model.name(), candidate.model.version(), update.getUri());
        return List.of(Either.Right(loaded), Either.Right(event(ModelEventKind.ACTIVE, candidate.model,
                "replaces " + current.model.version())));
    }

    /** What a served model must have: a feature count the job's rows fit, lanes alike, the serving model's labels. */
    private void checkFits(Served candidate, ModelMetadata current) {
        layout.requireFits(candidate.model);
        if (current != null && !current.labels().equals(candidate.model.labels())) {
            throw new IllegalStateException("The model " + candidate.model.name() + " " + candidate.model.version()
                    + " names the labels " + candidate.model.labels() + ", the serving one " + current.labels());
        }
        if (current != null && !current.name().equals(candidate.model.name())) {
            throw new IllegalStateException("The metadata of the update names the model " + candidate.model.name()
                    + ", the job serves " + current.name());
        }
    }

    /** Scores recent rows (or a row of zeros) with each lane's client: one probability row per input row. */
    private void smokeTest(Served candidate) throws Exception {
        float[][] recent = recentRows;
        float[][] rows = recent != null ? Arrays.copyOf(recent, Math.min(recent.length, SMOKE_ROWS))
                : new float[][] {new float[layout.width()]};
        for (ModelClient client : candidate.clients()) {
            ModelAnswer answer = client.score(rows, System.nanoTime() + SMOKE_TIMEOUT.toNanos())
                    .get(SMOKE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            if (answer.fallbackReason() != null) {
                throw new IllegalStateException("the model did not answer the smoke batch: " + answer.fallbackReason());
            }
            String shape = wrongShape(answer, rows.length);
            if (shape != null) {
                throw new IllegalStateException("smoke batch: " + shape);
            }
            for (float[] row : answer.scores()) {
                double sum = 0;
                for (float p : row) {
                    if (!(p >= -1e-4f && p <= 1 + 1e-4f)) {
                        throw new IllegalStateException("smoke batch: the model returned " + p + ", not a probability");
                    }
                    sum += p;
                }
                if (Math.abs(sum - 1) > 1e-3) {
                    throw new IllegalStateException("smoke batch: a row of probabilities sums to " + sum);
                }
            }
        }
    }

    /** Opens the clients of the configured model ({@code update} null) or of an update, one per lane. */
    private Served openModel(ModelUpdate update) throws Exception {
        ModelSettings base = update == null ? settings : settings.forModel(update.getUri(), update.getSha256());
        ModelSettings laneSettings = base.forCalls(lanes.asyncCapacity()); // the async operator bounds the calls
        String label = update == null ? CONFIGURED : update.getVersion();
        int opens = opensByLabel.merge(label, 1, Integer::sum);
        String groupLabel = opens == 1 ? label : label + "#" + opens; // metric names stay unique on a reload
        ModelClient normalClient = clients.open(laneSettings, "subtask-" + subtask,
                normal.group.addGroup("model", groupLabel));
        ModelClient priorityClient = null;
        try {
            if (priority != null) {
                // a model server that queues requests serves the priority lane's first (level 1, Triton's highest)
                priorityClient = clients.open(laneSettings.copy().requestPriority(1), "subtask-" + subtask + "-priority",
                        priority.group.addGroup("model", groupLabel));
                requireSameModel(normalClient.metadata(), priorityClient.metadata());
            }
        } catch (Exception | Error e) {
            normalClient.close();
            if (priorityClient != null) {
                priorityClient.close();
            }
            throw e;
        }
        return new Served(update, normalClient, priorityClient);
    }

    private static void requireSameModel(ModelMetadata a, ModelMetadata b) {
        if (a.featureCount() != b.featureCount() || !a.labels().equals(b.labels())) {
            throw new IllegalStateException("The lanes' clients serve different models: " + a + " and " + b);
        }
    }

    private void announce(ModelEventKind kind, ModelMetadata model, String reason) {
        announcements.add(event(kind, model, reason));
    }

    private ModelEvent event(ModelEventKind kind, ModelMetadata model, String reason) {
        return event(kind, model.name(), model.version(), reason);
    }

    private ModelEvent event(ModelEventKind kind, String name, String version, String reason) {
        return new ModelEvent(name, version, kind, reason, subtask, System.currentTimeMillis());
    }

    @Override
    public void close() throws Exception {
        if (loader != null) {
            loader.shutdownNow();
            loader.awaitTermination(30, TimeUnit.SECONDS);
            loader = null;
        }
        if (openModels != null) {
            for (Served served : openModels) {
                served.close();
            }
        }
        serving = null;
    }

    /** Completes the batch's future unless it was completed before; true if this call completed it. */
    private boolean complete(Batch batch, List<Either<Prediction, ModelEvent>> answers) {
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
        for (Either<Prediction, ModelEvent> answer : answers) {
            batch.lane.endToEndMillis.update(now - answer.left().getIngestTimeMillis());
        }
        if (!announcements.isEmpty()) {
            answers = new ArrayList<>(answers);
            for (ModelEvent event; (event = announcements.poll()) != null; ) {
                answers.add(Either.Right(event));
            }
        }
        batch.future.complete(answers);
        batch.served.release();
        return true;
    }

    /** The clients of one model version, for both lanes; closed once retired and its last call is answered. */
    private final class Served {
        final ModelUpdate update;
        final ModelClient normalClient;
        final ModelClient priorityClient;
        final ModelMetadata model;
        private final AtomicInteger holders = new AtomicInteger();
        private volatile boolean retired;
        private final AtomicBoolean closed = new AtomicBoolean();

        Served(ModelUpdate update, ModelClient normalClient, ModelClient priorityClient) {
            this.update = update;
            this.normalClient = normalClient;
            this.priorityClient = priorityClient;
            this.model = normalClient.metadata();
            openModels.add(this);
        }

        List<ModelClient> clients() {
            return priorityClient == null ? List.of(normalClient) : List.of(normalClient, priorityClient);
        }

        /** False when it was retired meanwhile: take the serving one instead. */
        boolean acquire() {
            holders.incrementAndGet();
            if (retired) {
                release();
                return false;
            }
            return true;
        }

        void release() {
            if (holders.decrementAndGet() == 0 && retired) {
                closeLater();
            }
        }

        void retire() {
            retired = true;
            if (holders.get() == 0) {
                closeLater();
            }
        }

        /** Not on the thread that completed a call: closing the in-process client joins its worker threads. */
        private void closeLater() {
            ExecutorService executor = loader;
            if (executor == null) {
                close();
                return;
            }
            try {
                executor.execute(this::close);
            } catch (RejectedExecutionException e) {
                close();
            }
        }

        void close() {
            if (!closed.compareAndSet(false, true)) {
                return;
            }
            openModels.remove(this);
            try {
                if (priorityClient != null) {
                    priorityClient.close();
                }
            } finally {
                normalClient.close();
            }
        }
    }

    /** A lane's metrics and calls in flight, whichever model serves. */
    private static final class Lane {
        final MetricGroup group;
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

        Lane(String name, int shedAbove, MetricGroup inference) {
            group = inference.addGroup("lane", name);
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
        final Served served;
        final List<ScoringRequest> scorable;
        /** Fallbacks for requests that could not be scored, sent along with the model's answers. */
        final List<Either<Prediction, ModelEvent>> refused;
        final int total;
        final ResultFuture<Either<Prediction, ModelEvent>> future;
        final long startNanos;
        CompletableFuture<ModelAnswer> call;
        /** Counted in its lane's calls until it completes. */
        boolean calling;
        private final AtomicBoolean done = new AtomicBoolean();

        Batch(Lane lane, Served served, List<ScoringRequest> scorable, List<Either<Prediction, ModelEvent>> refused,
              int total, ResultFuture<Either<Prediction, ModelEvent>> future, long startNanos) {
            this.lane = lane;
            this.served = served;
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
