package dev.flinkai.operators.bench;

import dev.flinkai.operators.features.FeatureExtractor;
import dev.flinkai.operators.features.ScoringRequest;
import dev.flinkai.operators.inference.BatchingInferenceFunction;
import dev.flinkai.operators.inference.ModelClientFactory;
import dev.flinkai.operators.inference.ModelSettings;
import dev.flinkai.operators.inference.djl.DjlModelClient;
import dev.flinkai.operators.testing.InterceptedScorer;
import dev.flinkai.schemas.ModelEvent;
import dev.flinkai.schemas.Prediction;

import org.apache.flink.api.common.ExecutionConfig;
import org.apache.flink.api.common.TaskInfoImpl;
import org.apache.flink.api.common.functions.DefaultOpenContext;
import org.apache.flink.api.common.functions.util.RuntimeUDFContext;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.streaming.api.functions.async.CollectionSupplier;
import org.apache.flink.streaming.api.functions.async.ResultFuture;
import org.apache.flink.types.Either;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The real {@link BatchingInferenceFunction} (open with a plain runtime context, no Flink operator around it) scoring
 * with the committed model: a burst of {@value #BURST} realistic requests as lists of {@code maxBatchSize} (what
 * {@link dev.flinkai.operators.inference.MicroBatchOperator} emits when lists close full), one {@code asyncInvoke} per
 * list, then wait until every list's result future completed. The in-process client with one worker. The score is
 * nanoseconds per request: the feature check, the hand-over of the batch to the client's worker, the DJL call,
 * building the Predictions, completing the future.
 *
 * <p>What it leaves out: the batching itself (see {@code MicroBatchOperatorBenchmark}) and Flink's AsyncWaitOperator
 * (its queue, timers, mailbox and output), so it measures the function's share of the per-event cost.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class BatchingInferenceBenchmark {

    static final int BURST = 1024; // a multiple of every maxBatchSize below: every list is full

    @Param({"1", "16", "64", "256"})
    public int maxBatchSize;

    private final AtomicLong completed = new AtomicLong();
    private final AtomicLong fallbacks = new AtomicLong();
    private final AtomicLong modelCalls = new AtomicLong();
    private final AtomicLong modelRows = new AtomicLong();
    private BatchingInferenceFunction function;
    private List<List<ScoringRequest>> lists;
    private long target;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        BenchData.Sample[] samples = BenchData.samples(BURST, false);
        lists = new ArrayList<>();
        for (int from = 0; from < BURST; from += maxBatchSize) {
            List<ScoringRequest> list = new ArrayList<>(maxBatchSize);
            for (int i = from; i < from + maxBatchSize; i++) {
                var e = samples[i].event();
                list.add(new ScoringRequest(e.getEventId().toString(), e.getUserId().toString(), e.getPriority(),
                        e.getEventTimeMillis(), e.getEventTimeMillis(), samples[i].features()));
            }
            lists.add(list);
        }
        ModelSettings settings = ModelSettings.forModel(BenchData.committedModel().toUri().toString()).workers(1);
        function = new BatchingInferenceFunction(settings, callCounting(modelCalls, modelRows),
                FeatureExtractor.LAYOUT, Duration.ofSeconds(30));
        function.setRuntimeContext(new RuntimeUDFContext(new TaskInfoImpl("bench", 1, 0, 1, 0),
                getClass().getClassLoader(), new ExecutionConfig(), new HashMap<>(), new HashMap<>(),
                UnregisteredMetricsGroup.createOperatorMetricGroup()));
        function.open(DefaultOpenContext.INSTANCE);
    }

    @Benchmark
    @OperationsPerInvocation(BURST)
    public long asyncInvokeBurst() throws Exception {
        for (List<ScoringRequest> list : lists) {
            function.asyncInvoke(list, new Counting()); // one future per list, as Flink's async operator does
        }
        target += BURST;
        while (completed.get() < target) {
            Thread.yield();
        }
        return target;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        function.close();
        long calls = modelCalls.get();
        System.out.printf("NOTE BatchingInference maxBatchSize=%d: %d requests in %d model calls, mean batch %.1f%n",
                maxBatchSize, modelRows.get(), calls, calls == 0 ? 0.0 : (double) modelRows.get() / calls);
        if (calls * maxBatchSize != modelRows.get()) {
            throw new IllegalStateException("lists were not scored one model call each: the benchmark measured the wrong path");
        }
        if (fallbacks.get() > 0) {
            throw new IllegalStateException(fallbacks.get() + " of " + completed.get()
                    + " requests got a fallback instead of the model's answer: the benchmark measured the wrong path");
        }
    }

    /** The in-process client; only counts model calls and rows on the worker (two atomic adds per batch). */
    private static ModelClientFactory callCounting(AtomicLong calls, AtomicLong rows) {
        return (settings, owner, metrics) -> DjlModelClient.open(settings, owner, metrics,
                predictor -> new InterceptedScorer(predictor, (batch, real) -> {
                    calls.incrementAndGet();
                    rows.addAndGet(batch.length);
                    return real.score(batch);
                }));
    }

    private final class Counting implements ResultFuture<Either<Prediction, ModelEvent>> {
        @Override
        public void complete(Collection<Either<Prediction, ModelEvent>> result) {
            for (Either<Prediction, ModelEvent> answer : result) {
                if (answer.isRight()) {
                    continue; // the model the function serves, announced with its first batch
                }
                if (answer.left().getFallback()) {
                    fallbacks.incrementAndGet();
                }
                completed.incrementAndGet(); // requests answered
            }
        }

        @Override
        public void completeExceptionally(Throwable error) {
            fallbacks.addAndGet(maxBatchSize);
            completed.addAndGet(maxBatchSize);
        }

        @Override
        public void complete(CollectionSupplier<Either<Prediction, ModelEvent>> supplier) {
            try {
                complete(supplier.get());
            } catch (Exception e) {
                completeExceptionally(e);
            }
        }
    }
}
