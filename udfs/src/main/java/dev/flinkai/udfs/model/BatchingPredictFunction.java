package dev.flinkai.udfs.model;

import dev.flinkai.operators.inference.ModelAnswer;
import dev.flinkai.operators.inference.ModelClient;
import dev.flinkai.operators.inference.ModelClients;
import dev.flinkai.operators.inference.ModelMetadata;
import dev.flinkai.operators.inference.ModelSettings;
import dev.flinkai.operators.inference.Predictions;
import dev.flinkai.operators.inference.SynchronizedHistogram;

import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.functions.AsyncPredictFunction;
import org.apache.flink.table.functions.FunctionContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The {@code ML_PREDICT} function of the {@code flinkai} provider: scores through the model-client seam
 * ({@link ModelClients#DEFAULT}: in-process DJL, or a remote endpoint with its resilience policy and fallback model,
 * and the result cache), <b>micro-batched across rows</b>. Flink calls {@link #asyncPredict} once per row, with up to
 * the ML_PREDICT {@code max-concurrent-operations} rows in flight; the rows collect in a batch that goes to the model
 * in one {@link ModelClient#score} call when it holds {@code max-batch-size} rows or {@code max-wait} has passed since
 * its first row. With {@code batching = false} every row is a call of its own, as in Flink's own providers.
 *
 * <p>Every row is answered exactly once and never with an error, as in the DataStream job's
 * {@code BatchingInferenceFunction}: a batch that fails or is not answered within {@code timeout} answers its rows
 * with the model's class priors, {@code fallback = true} and the reason ("model error: ...", "timeout after X ms"),
 * and its call is cancelled; a row whose features are invalid (null, too few) gets the priors without reaching the
 * model.
 *
 * <p>Metrics, in the function's (operator's) group {@code inference}: histograms {@code batchSize} (rows per model
 * call) and {@code latencyMicros} (per call, any outcome); counters {@code predictions} (model answers),
 * {@code fallbacks} (all fallbacks), {@code timeouts}, {@code modelErrors} (failed calls) and
 * {@code invalidRequests}. The client registers its own in {@code inference.model}.
 */
public class BatchingPredictFunction extends AsyncPredictFunction {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(BatchingPredictFunction.class);
    private static final int HISTOGRAM_WINDOW = 10_000;

    private final ModelSettings settings;
    private final FeatureInput input;
    private final PredictionOutput output;
    private final int maxBatchSize;
    private final long maxWaitNanos;
    private final long timeoutMillis;
    private final boolean batching;

    private transient ModelClient client;
    private transient ModelMetadata model;
    /** Closes batches whose wait is over and answers calls whose timeout passed. */
    private transient ScheduledExecutorService timers;
    private transient Object lock;
    private transient List<Pending> filling; // guarded by lock
    private transient long filled; // batches closed so far, guarded by lock: a wait timer knows its batch by it
    private transient Counter predictions;
    private transient Counter fallbacks;
    private transient Counter timeouts;
    private transient Counter modelErrors;
    private transient Counter invalidRequests;
    private transient Histogram batchSize;
    private transient Histogram latencyMicros;

    BatchingPredictFunction(ModelSettings settings, FeatureInput input, PredictionOutput output, int maxBatchSize,
                            Duration maxWait, Duration timeout, boolean batching) {
        this.settings = settings;
        this.input = input;
        this.output = output;
        this.maxBatchSize = batching ? maxBatchSize : 1;
        this.maxWaitNanos = maxWait.toNanos();
        this.timeoutMillis = timeout.toMillis();
        this.batching = batching;
    }

    @Override
    public void open(FunctionContext context) throws Exception {
        int subtask = context.getTaskInfo().getIndexOfThisSubtask();
        MetricGroup group = context.getMetricGroup().addGroup("inference");
        predictions = group.counter("predictions");
        fallbacks = group.counter("fallbacks");
        timeouts = group.counter("timeouts");
        modelErrors = group.counter("modelErrors");
        invalidRequests = group.counter("invalidRequests");
        batchSize = group.histogram("batchSize", new SynchronizedHistogram(HISTOGRAM_WINDOW));
        latencyMicros = group.histogram("latencyMicros", new SynchronizedHistogram(HISTOGRAM_WINDOW));
        lock = new Object();
        filling = new ArrayList<>(maxBatchSize);
        timers = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "ml-predict-timers-" + subtask);
            thread.setDaemon(true);
            return thread;
        });
        client = ModelClients.DEFAULT.open(settings, "ml-predict-" + subtask, group.addGroup("model"));
        model = client.metadata();
        LOG.info("ML_PREDICT subtask {} serves {} {} with {}, batches of up to {} rows (wait {} µs), timeout {} ms",
                subtask, model.name(), model.version(), settings, maxBatchSize, maxWaitNanos / 1_000, timeoutMillis);
    }

    @Override
    public CompletableFuture<Collection<RowData>> asyncPredict(RowData row) {
        CompletableFuture<Collection<RowData>> answer = new CompletableFuture<>();
        float[] features;
        try {
            features = input.read(row);
        } catch (IllegalArgumentException e) {
            invalidRequests.inc();
            fallbacks.inc();
            answer.complete(List.of(output.row(model.classPriors(), model, ModelAnswer.PRIORS,
                    "invalid features: " + e.getMessage())));
            return answer;
        }
        Pending pending = new Pending(features, answer);
        if (!batching) {
            call(List.of(pending));
            return answer;
        }
        List<Pending> full = null;
        synchronized (lock) {
            filling.add(pending);
            if (filling.size() >= maxBatchSize) {
                full = closeBatch();
            } else if (filling.size() == 1) {
                long batch = filled;
                timers.schedule(() -> waitOver(batch), maxWaitNanos, TimeUnit.NANOSECONDS);
            }
        }
        if (full != null) {
            call(full);
        }
        return answer;
    }

    /** The open batch, taken; called under the lock. */
    private List<Pending> closeBatch() {
        List<Pending> batch = filling;
        filling = new ArrayList<>(maxBatchSize);
        filled++;
        return batch;
    }

    /** On the timer thread: the batch numbered {@code batch} has waited long enough, unless it has closed full. */
    private void waitOver(long batch) {
        List<Pending> due = null;
        synchronized (lock) {
            if (filled == batch && !filling.isEmpty()) {
                due = closeBatch();
            }
        }
        if (due != null) {
            call(due);
        }
    }

    private void call(List<Pending> batch) {
        float[][] rows = new float[batch.size()][];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = batch.get(i).features;
        }
        batchSize.update(rows.length);
        long start = System.nanoTime();
        AtomicBoolean answered = new AtomicBoolean();
        CompletableFuture<ModelAnswer> call = client.score(rows, start + TimeUnit.MILLISECONDS.toNanos(timeoutMillis));
        ScheduledFuture<?> timeout = timers.schedule(() -> {
            if (answered.compareAndSet(false, true)) {
                latencyMicros.update((System.nanoTime() - start) / 1_000);
                answerWithPriors(batch, "timeout after " + timeoutMillis + " ms");
                timeouts.inc(batch.size());
                call.cancel(false);
            }
        }, timeoutMillis, TimeUnit.MILLISECONDS);
        call.whenComplete((answer, failure) -> {
            if (failure instanceof CancellationException || !answered.compareAndSet(false, true)) {
                return; // the timeout answered it
            }
            timeout.cancel(false);
            latencyMicros.update((System.nanoTime() - start) / 1_000);
            String problem = failure != null ? Predictions.describe(unwrap(failure)) : wrongShape(answer, rows.length);
            if (problem != null) {
                LOG.warn("Model call failed on a batch of {}; answering it with class priors: {}", rows.length, problem);
                modelErrors.inc();
                answerWithPriors(batch, "model error: " + problem);
                return;
            }
            for (int i = 0; i < rows.length; i++) {
                batch.get(i).answer.complete(List.of(output.row(answer.scores()[i], answer.model(), answer.servedBy(),
                        answer.fallbackReason())));
            }
            (answer.fallbackReason() == null ? predictions : fallbacks).inc(rows.length);
        });
    }

    private void answerWithPriors(List<Pending> batch, String reason) {
        for (Pending pending : batch) {
            pending.answer.complete(List.of(output.row(model.classPriors(), model, ModelAnswer.PRIORS, reason)));
        }
        fallbacks.inc(batch.size());
    }

    private static Throwable unwrap(Throwable failure) {
        return failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
    }

    /** Null when the answer has one row of one probability per label for each input row. */
    private static String wrongShape(ModelAnswer answer, int rows) {
        float[][] scores = answer == null ? null : answer.scores();
        if (scores == null || scores.length != rows) {
            return "model returned " + (scores == null ? "nothing" : scores.length + " rows") + " for " + rows;
        }
        for (float[] row : scores) {
            if (row == null || row.length != answer.model().classCount()) {
                return "model returned a row of " + (row == null ? "nothing" : row.length + " values") + " for "
                        + answer.model().classCount() + " labels";
            }
        }
        return null;
    }

    @Override
    public void close() throws Exception {
        try {
            if (timers != null) {
                timers.shutdownNow();
            }
        } finally {
            if (client != null) {
                client.close();
            }
        }
    }

    /** A row waiting for its batch's answer. */
    private record Pending(float[] features, CompletableFuture<Collection<RowData>> answer) {}
}
