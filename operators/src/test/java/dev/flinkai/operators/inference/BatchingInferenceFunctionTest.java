package dev.flinkai.operators.inference;

import dev.flinkai.operators.features.FeatureExtractor;
import dev.flinkai.operators.features.FeatureLayout;
import dev.flinkai.operators.features.ScoringRequest;
import dev.flinkai.operators.inference.djl.BatchScorer;
import dev.flinkai.operators.inference.djl.DjlModel;
import dev.flinkai.operators.inference.djl.DjlModelClient;
import dev.flinkai.operators.inference.djl.ModelArtifacts;
import dev.flinkai.operators.simulation.LabelledExamples;
import dev.flinkai.operators.testing.CommittedModel;
import dev.flinkai.operators.testing.InterceptedScorer;
import dev.flinkai.schemas.ModelEvent;
import dev.flinkai.schemas.Prediction;

import org.apache.flink.api.common.serialization.SerializerConfigImpl;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.base.ListSerializer;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.runtime.jobgraph.OperatorID;
import org.apache.flink.runtime.metrics.groups.InternalOperatorMetricGroup;
import org.apache.flink.runtime.metrics.util.InterceptingOperatorMetricGroup;
import org.apache.flink.runtime.metrics.util.InterceptingTaskMetricGroup;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.operators.testutils.MockEnvironmentBuilder;
import org.apache.flink.streaming.api.datastream.AsyncDataStream;
import org.apache.flink.streaming.api.operators.async.AsyncWaitOperatorFactory;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.runtime.tasks.mailbox.Mail;
import org.apache.flink.streaming.runtime.tasks.mailbox.TaskMailbox;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.apache.flink.types.Either;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * The function inside Flink's real async operator (test harness, manual processing time), scoring lists of requests
 * (as {@link MicroBatchOperator} makes them) with the committed model through the in-process client. Slow and failing
 * models are the real model behind a fixture on the client's worker thread: a gate that holds the call, or a batch of
 * the wrong width handed to the real model.
 */
class BatchingInferenceFunctionTest {

    private static final TypeSerializer<ScoringRequest> REQUESTS =
            TypeInformation.of(ScoringRequest.class).createSerializer(new SerializerConfigImpl());
    /** The async operator's input: one list per model call. */
    private static final TypeSerializer<List<ScoringRequest>> BATCHES = new ListSerializer<>(REQUESTS);

    private static DjlModel reference;
    private static ModelMetadata metadata;
    private static List<float[]> features;

    @BeforeAll
    static void loadReference() throws Exception {
        reference = DjlModel.load(ModelArtifacts.fetch(CommittedModel.uri(), null, null));
        metadata = reference.metadata();
        List<float[]> rows = new ArrayList<>();
        LabelledExamples.generate(5, 300, 0.8, 2_000, (f, label) -> {
            if (rows.size() < 600) {
                rows.add(f.clone());
            }
        });
        features = rows;
    }

    @AfterAll
    static void closeReference() {
        reference.close();
    }

    private static ScoringRequest request(int i, float[] f) {
        return new ScoringRequest("ev-" + i, "user-" + (i % 17), i % 3, 1_000_000L + i, 2_000_000L + i, f);
    }

    private static ModelSettings settings(int workers) {
        return ModelSettings.forModel(CommittedModel.uri()).workers(workers);
    }

    private static BatchingInferenceFunction function(ModelSettings settings, ModelClientFactory clients, Duration timeout) {
        return new BatchingInferenceFunction(settings, clients, FeatureExtractor.LAYOUT,
                timeout);
    }

    /** The in-process client with {@code interceptor} in front of each worker's real predictor. */
    private static ModelClientFactory intercepted(InterceptedScorer.Interceptor interceptor) {
        return (settings, owner, metrics) -> DjlModelClient.open(settings, owner, metrics,
                predictor -> new InterceptedScorer(predictor, interceptor));
    }

    static OneInputStreamOperatorTestHarness<List<ScoringRequest>, Either<Prediction, ModelEvent>> harness(
            BatchingInferenceFunction function, long timeoutMillis, int capacity) throws Exception {
        return harness(function, timeoutMillis, capacity, null);
    }

    /** With {@code metrics}, the operator registers its metrics there (see {@link CapturingTaskGroup}). */
    static OneInputStreamOperatorTestHarness<List<ScoringRequest>, Either<Prediction, ModelEvent>> harness(
            BatchingInferenceFunction function, long timeoutMillis, int capacity, CapturingTaskGroup metrics)
            throws Exception {
        var factory = new AsyncWaitOperatorFactory<List<ScoringRequest>, Either<Prediction, ModelEvent>>(function, timeoutMillis, capacity,
                AsyncDataStream.OutputMode.UNORDERED);
        OneInputStreamOperatorTestHarness<List<ScoringRequest>, Either<Prediction, ModelEvent>> harness;
        if (metrics == null) {
            harness = new OneInputStreamOperatorTestHarness<>(factory, BATCHES);
        } else {
            MockEnvironment environment = new MockEnvironmentBuilder().setTaskName("inference-metrics")
                    .setManagedMemorySize(3 * 1024 * 1024).setBufferSize(1024).setMetricGroup(metrics).build();
            harness = new OneInputStreamOperatorTestHarness<>(factory, BATCHES, environment);
        }
        harness.setup(BatchingInferenceFunction.outputType().createSerializer(new SerializerConfigImpl()));
        return harness;
    }

    /** Requests {@code from} (inclusive) to {@code to} (exclusive) with the reference features. */
    private static List<ScoringRequest> requests(int from, int to) {
        List<ScoringRequest> out = new ArrayList<>();
        for (int i = from; i < to; i++) {
            out.add(request(i, features.get(i)));
        }
        return out;
    }

    /** Runs the operator's mails (completions, timers) on this, the task thread, until {@code expected} outputs arrived. */
    private static List<Prediction> awaitOutputs(OneInputStreamOperatorTestHarness<List<ScoringRequest>, Either<Prediction, ModelEvent>> harness,
                                                 int expected) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            drainMailbox(harness);
            List<Prediction> out = predictionsOf(harness);
            if (out.size() >= expected) {
                return out;
            }
            Thread.sleep(2);
        }
        throw new AssertionError("only " + predictionsOf(harness).size() + " of " + expected + " predictions arrived");
    }

    /** The predictions among the operator's outputs so far. */
    static List<Prediction> predictionsOf(
            OneInputStreamOperatorTestHarness<List<ScoringRequest>, Either<Prediction, ModelEvent>> harness) {
        return harness.extractOutputValues().stream().filter(Either::isLeft).map(Either::left).toList();
    }

    /** The model events among the operator's outputs so far. */
    static List<ModelEvent> modelEventsOf(
            OneInputStreamOperatorTestHarness<List<ScoringRequest>, Either<Prediction, ModelEvent>> harness) {
        return harness.extractOutputValues().stream().filter(Either::isRight).map(Either::right).toList();
    }

    static void drainMailbox(OneInputStreamOperatorTestHarness<List<ScoringRequest>, Either<Prediction, ModelEvent>> harness)
            throws Exception {
        TaskMailbox mailbox = harness.getTaskMailbox();
        Optional<Mail> mail;
        while ((mail = mailbox.tryTake(TaskMailbox.MIN_PRIORITY)).isPresent()) {
            mail.get().run();
        }
    }

    private static void awaitTrue(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean() && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertThat(condition.getAsBoolean()).as(what).isTrue();
    }

    private static Map<String, Prediction> byEventId(List<Prediction> predictions) {
        return predictions.stream().collect(Collectors.toMap(Prediction::getEventId, Function.identity()));
    }

    private static void assertFallbackWithPriors(Prediction p) {
        float[] priors = metadata.classPriors();
        assertThat(p.getFallback()).isTrue();
        assertThat(p.getScores()).hasSize(priors.length);
        for (int c = 0; c < priors.length; c++) {
            assertThat(p.getScores().get(c)).isEqualTo(priors[c]);
        }
        assertThat(p.getLabel()).isEqualTo(metadata.labels().get(ModelMetadata.argmax(priors)));
    }

    private static long count(CapturingOperatorGroup group, String counter) {
        return ((Counter) group.get(counter)).getCount();
    }

    private static Object gauge(CapturingOperatorGroup group, String gauge) {
        return ((Gauge<?>) group.get(gauge)).getValue();
    }

    /** Counts what really reaches the model, per call. */
    static final List<Integer> CALL_SIZES = new CopyOnWriteArrayList<>();

    private static BatchingInferenceFunction recording(int workers) {
        return function(settings(workers), intercepted((batch, real) -> {
            CALL_SIZES.add(batch.length);
            return real.score(batch);
        }), Duration.ofSeconds(30));
    }

    /**
     * Each list is one model call (two workers), every request gets exactly one prediction equal to scoring it alone,
     * carrying the request's ids and times, and each prediction leaves with its list's timestamp.
     */
    @Test
    void eachListIsOneModelCallAndItsPredictionsMatchPerEventInference() throws Exception {
        int n = features.size();
        int listSize = 16;
        CALL_SIZES.clear();
        List<Integer> listSizes = new ArrayList<>();
        Map<String, Long> listTimestamp = new HashMap<>();
        List<StreamRecord<? extends Either<Prediction, ModelEvent>>> records;
        try (var harness = harness(recording(2), 30_000, n)) {
            harness.open();
            for (int from = 0; from < n; from += listSize) {
                List<ScoringRequest> list = requests(from, Math.min(n, from + listSize));
                long timestamp = 5_000L + from;
                list.forEach(r -> listTimestamp.put(r.eventId, timestamp));
                listSizes.add(list.size());
                harness.processElement(list, timestamp);
            }
            awaitOutputs(harness, n);
            harness.endInput();
            records = harness.extractOutputStreamRecords().stream().filter(r -> r.getValue().isLeft()).toList();
        }
        assertThat(listSizes).contains(8); // 600 = 37 x 16 + 8: one partial list
        assertThat(CALL_SIZES).containsExactlyInAnyOrderElementsOf(listSizes);
        assertThat(records).hasSize(n);
        assertThat(records).allSatisfy(r ->
                assertThat(r.getTimestamp()).isEqualTo(listTimestamp.get(r.getValue().left().getEventId())));
        List<Prediction> out = new ArrayList<>();
        records.forEach(r -> out.add(r.getValue().left()));
        Map<String, Prediction> byId = byEventId(out);
        assertThat(byId).hasSize(n);

        try (BatchScorer single = reference.newPredictor()) {
            for (int i = 0; i < n; i++) {
                float[] expected = single.score(new float[][] {features.get(i)})[0];
                Prediction p = byId.get("ev-" + i);
                assertThat(p.getFallback()).isFalse();
                assertThat(p.getFallbackReason()).isNull();
                assertThat(p.getScores()).hasSize(4);
                for (int c = 0; c < 4; c++) {
                    assertThat(p.getScores().get(c)).isCloseTo(expected[c], within(1e-5f));
                }
                float[] got = new float[4];
                for (int c = 0; c < 4; c++) {
                    got[c] = p.getScores().get(c);
                }
                assertThat(p.getLabel()).isEqualTo(metadata.labels().get(ModelMetadata.argmax(got)));
                assertThat(p.getUserId()).isEqualTo("user-" + (i % 17));
                assertThat(p.getEventTimeMillis()).isEqualTo(1_000_000L + i);
                assertThat(p.getIngestTimeMillis()).isEqualTo(2_000_000L + i);
                assertThat(p.getModelName()).isEqualTo(metadata.name());
                assertThat(p.getModelVersion()).isEqualTo(metadata.version());
                assertThat(p.getPredictTimeMillis()).isGreaterThan(0L);
            }
        }
    }

    /** The real model, held at a gate until the test opens it. */
    static volatile CountDownLatch gate = new CountDownLatch(1);
    static final AtomicInteger ROWS_SCORED = new AtomicInteger();
    static final AtomicInteger CALLS = new AtomicInteger();

    private static BatchingInferenceFunction gated(Duration timeout) {
        return function(settings(1), intercepted((batch, real) -> {
            CALLS.incrementAndGet();
            if (!gate.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("gate never opened");
            }
            ROWS_SCORED.addAndGet(batch.length);
            return real.score(batch);
        }), timeout);
    }

    /**
     * When processing time passes the async operator's timeout while the model is held, every request of every open
     * batch is answered once with a fallback naming the timeout; the batch inside the model is answered by the timeout
     * only (its late result is dropped), the queued timed-out batches never reach the model, and a fresh batch
     * afterwards gets real predictions.
     */
    @Test
    void aModelSlowerThanTheTimeoutYieldsFallbacksAndTimedOutBatchesAreNotScored() throws Exception {
        gate = new CountDownLatch(1);
        ROWS_SCORED.set(0);
        CALLS.set(0);
        long timeout = 100;
        int n = 10;
        CapturingTaskGroup metrics = new CapturingTaskGroup();
        try (var harness = harness(gated(Duration.ofMillis(timeout)), timeout, 100, metrics)) {
            harness.open();
            CapturingOperatorGroup group = metrics.lane("normal");
            harness.setProcessingTime(0);
            harness.processElement(requests(0, 4), 0); // taken by the worker, held in the model
            harness.processElement(requests(4, 8), 1); // queued behind it
            harness.processElement(requests(8, 10), 2);
            awaitTrue(() -> CALLS.get() == 1, "the worker is inside the model with the first batch");
            assertThat(gauge(group, "inFlight")).isEqualTo(n);
            assertThat(gauge(group, "queued")).isEqualTo(2);

            harness.setProcessingTime(timeout - 1);
            drainMailbox(harness);
            assertThat(predictionsOf(harness)).as("nothing times out before the timeout").isEmpty();

            harness.setProcessingTime(timeout); // the operator's timers fire: the function answers with fallbacks
            List<Prediction> timedOut = awaitOutputs(harness, n);
            assertThat(timedOut).hasSize(n);
            assertThat(byEventId(timedOut)).hasSize(n);
            assertThat(timedOut).allSatisfy(p -> {
                assertFallbackWithPriors(p);
                assertThat(p.getFallbackReason()).isEqualTo("timeout after 100 ms");
            });
            assertThat(count(group, "timeouts")).isEqualTo(n);
            assertThat(gauge(group, "inFlight")).isEqualTo(0);

            // The model answers again: the held batch finishes (too late), the queued timed-out batches are skipped,
            // and a fresh batch queued behind them gets a real prediction.
            gate.countDown();
            harness.processElement(requests(n, n + 1), 3);
            List<Prediction> all = awaitOutputs(harness, n + 1);
            drainMailbox(harness);
            all = predictionsOf(harness);
            assertThat(all).hasSize(n + 1); // nothing completed twice
            assertThat(byEventId(all)).hasSize(n + 1);
            Prediction fresh = byEventId(all).get("ev-" + n);
            assertThat(fresh.getFallback()).isFalse();
            assertThat(fresh.getFallbackReason()).isNull();
            // Only the batch already inside the model (4 rows) and the fresh request reached the model.
            assertThat(CALLS).hasValue(2);
            assertThat(ROWS_SCORED).hasValue(4 + 1);
            assertThat(count(group, "predictions")).as("the late answers of the held batch are not counted").isEqualTo(1);
            assertThat(count(group, "fallbacks")).isEqualTo(n);
            assertThat(count(group, "timeouts")).isEqualTo(n);
            assertThat(count(group, "modelErrors")).isZero();
            assertThat(gauge(group, "inFlight")).isEqualTo(0);
            assertThat(gauge(group, "queued")).isEqualTo(0);
            assertThat(((Histogram) group.get("latencyMicros")).getCount()).isEqualTo(4);
            harness.endInput();
        }
    }

    /** The real model, handed rows shorter than it takes while BROKEN is set: its predictor rejects them. */
    static final AtomicBoolean BROKEN = new AtomicBoolean();

    private static BatchingInferenceFunction misfed() {
        return function(settings(1), intercepted((batch, real) -> {
            if (!BROKEN.get()) {
                return real.score(batch);
            }
            float[][] narrow = new float[batch.length][];
            for (int i = 0; i < batch.length; i++) {
                narrow[i] = java.util.Arrays.copyOf(batch[i], metadata.featureCount() - 1);
            }
            return real.score(narrow);
        }), Duration.ofSeconds(30));
    }

    /**
     * When the model fails on a batch, each of its requests gets a fallback naming the error in one line (a request
     * refused for its features keeps that reason), and the next batch is scored normally.
     */
    @Test
    void aModelErrorYieldsFallbacksForItsBatchAndTheOperatorContinues() throws Exception {
        BROKEN.set(true);
        try (var harness = harness(misfed(), 30_000, 100)) {
            harness.open();
            List<ScoringRequest> failing = requests(0, 5);
            failing.add(request(99, null));
            harness.processElement(failing, 0);
            List<Prediction> failed = awaitOutputs(harness, 6);
            assertThat(failed).hasSize(6).allSatisfy(BatchingInferenceFunctionTest::assertFallbackWithPriors);
            Map<String, Prediction> byId = byEventId(failed);
            assertThat(byId.get("ev-99").getFallbackReason()).isEqualTo("invalid features: expected at least 32 values, got none");
            for (int i = 0; i < 5; i++) {
                assertThat(byId.get("ev-" + i).getFallbackReason())
                        .startsWith("model error: ")
                        .contains("Row 0 has 31 features, the model takes 32")
                        .doesNotContain("\n");
            }

            BROKEN.set(false);
            harness.processElement(requests(5, 10), 1);
            List<Prediction> all = awaitOutputs(harness, 11);
            harness.endInput();
            assertThat(all).hasSize(11);
            assertThat(all.subList(6, 11)).allSatisfy(p -> assertThat(p.getFallback()).isFalse());
        } finally {
            BROKEN.set(false);
        }
    }

    /**
     * Requests with missing or wrong-width features get fallbacks naming the problem and never reach the model; their
     * neighbours in the same list are scored (their answers leave together), and a list of only such requests is
     * answered without a model call.
     */
    @Test
    void requestsWithTheWrongFeatureCountGetFallbacksWithoutHarmingTheirNeighbours() throws Exception {
        CALL_SIZES.clear();
        try (var harness = harness(recording(1), 30_000, 100)) {
            harness.open();
            List<ScoringRequest> first = requests(0, 10);
            first.set(3, request(3, java.util.Arrays.copyOf(features.get(3), 31)));
            List<ScoringRequest> second = requests(10, 20);
            second.set(1, request(11, null));
            List<ScoringRequest> onlyInvalid = List.of(request(20, new float[20]), request(21, new float[0]));
            harness.processElement(first, 100);
            harness.processElement(second, 200);
            harness.processElement(onlyInvalid, 300);
            List<Prediction> out = awaitOutputs(harness, 22);
            harness.endInput();

            Map<String, Prediction> byId = byEventId(out);
            assertThat(byId).hasSize(22);
            assertFallbackWithPriors(byId.get("ev-3"));
            assertThat(byId.get("ev-3").getFallbackReason()).isEqualTo("invalid features: expected at least 32 values, got 31");
            assertFallbackWithPriors(byId.get("ev-11"));
            assertThat(byId.get("ev-11").getFallbackReason()).isEqualTo("invalid features: expected at least 32 values, got none");
            assertThat(byId.get("ev-20").getFallbackReason()).isEqualTo("invalid features: expected at least 32 values, got 20");
            assertThat(byId.get("ev-21").getFallbackReason()).isEqualTo("invalid features: expected at least 32 values, got 0");
            assertThat(out).filteredOn(p -> !p.getFallback()).hasSize(18);
            assertThat(CALL_SIZES).containsExactlyInAnyOrder(9, 9);

            // A refused request leaves with its list's other answers, at its list's timestamp.
            Map<String, Long> timestamps = new HashMap<>();
            for (StreamRecord<? extends Either<Prediction, ModelEvent>> r : harness.extractOutputStreamRecords()) {
                if (r.getValue().isLeft()) {
                    timestamps.put(r.getValue().left().getEventId(), r.getTimestamp());
                }
            }
            assertThat(timestamps.get("ev-3")).isEqualTo(100L);
            assertThat(timestamps.get("ev-11")).isEqualTo(200L);
            assertThat(timestamps.get("ev-20")).isEqualTo(300L);
        }
    }

    /**
     * Captures the operator's metrics: the "inference" subgroup is folded into it, each lane's group is one of these
     * of its own, and the lane client's "model" group is folded into its lane, so metrics keep their short names.
     */
    static final class CapturingOperatorGroup extends InterceptingOperatorMetricGroup {
        final Map<String, CapturingOperatorGroup> lanes = new HashMap<>();

        @Override
        public MetricGroup addGroup(String name) {
            return "inference".equals(name) ? this : super.addGroup(name);
        }

        @Override
        public MetricGroup addGroup(String key, String value) {
            return "lane".equals(key) ? lanes.computeIfAbsent(value, v -> new CapturingOperatorGroup())
                    : "model".equals(key) ? this : super.addGroup(key, value);
        }
    }

    static final class CapturingTaskGroup extends InterceptingTaskMetricGroup {
        final CapturingOperatorGroup operator = new CapturingOperatorGroup();

        @Override
        public InternalOperatorMetricGroup getOrAddOperator(OperatorID id, String name, Map<String, String> info) {
            return operator;
        }

        CapturingOperatorGroup lane(String name) {
            return operator.lanes.get(name);
        }
    }

    /**
     * Metrics after five lists of 8 (one request invalid) and a list of one invalid request: batchSize per model call,
     * latencyMicros per list, counters per request (modelErrors per batch), gauges back to zero.
     */
    @Test
    void reportsBatchSizesLatenciesCountersAndInFlight() throws Exception {
        int n = 40;
        int listSize = 8;
        CapturingTaskGroup metrics = new CapturingTaskGroup();
        BatchingInferenceFunction function = function(settings(1), ModelClients.DEFAULT, Duration.ofSeconds(30));
        try (var harness = harness(function, 30_000, 100, metrics)) {
            harness.open();
            for (int from = 0; from < n; from += listSize) {
                List<ScoringRequest> list = requests(from, from + listSize);
                if (from == 0) {
                    list.set(7, request(7, new float[3]));
                }
                harness.processElement(list, from);
            }
            harness.processElement(List.of(request(n, null)), n);
            awaitOutputs(harness, n + 1);

            CapturingOperatorGroup group = metrics.lane("normal");
            assertThat(count(group, "predictions")).isEqualTo(n - 1);
            assertThat(count(group, "fallbacks")).isEqualTo(2);
            assertThat(count(group, "invalidRequests")).isEqualTo(2);
            assertThat(count(group, "timeouts")).isZero();
            assertThat(count(group, "modelErrors")).isZero();
            assertThat(gauge(group, "inFlight")).isEqualTo(0);
            assertThat(gauge(group, "queued")).isEqualTo(0);
            Histogram batchSize = (Histogram) group.get("batchSize");
            assertThat(batchSize.getCount()).as("model calls").isEqualTo(5);
            assertThat(batchSize.getStatistics().getMax()).isEqualTo(listSize);
            assertThat(batchSize.getStatistics().getMin()).isEqualTo(listSize - 1);
            assertThat(batchSize.getStatistics().getMean() * batchSize.getCount()).isCloseTo(n - 1, within(1e-6));
            Histogram latency = (Histogram) group.get("latencyMicros");
            assertThat(latency.getCount()).as("one per list").isEqualTo(6);
            assertThat(latency.getStatistics().getMin()).isGreaterThanOrEqualTo(0L);
            harness.endInput();
        }
    }

    /** A model trained on other features is refused when the operator opens, naming both counts. */
    @Test
    void aModelThatTakesAnotherFeatureCountIsRefusedAtOpen() {
        BatchingInferenceFunction wider = new BatchingInferenceFunction(settings(1), ModelClients.DEFAULT,
                new FeatureLayout(36, new int[] {36}, "36 = 4 blocks of one slot per EventType symbol (5) + 16"),
                Duration.ofSeconds(1));
        assertThatThrownBy(() -> {
            try (var harness = harness(wider, 1_000, 10)) {
                harness.open();
            }
        }).hasStackTraceContaining("takes 32 features, but the job's features are 36 = 4 blocks");
    }

    /** Requests of one priority, so that each list is one lane's (as the micro-batcher makes them). */
    private static List<ScoringRequest> requestsOfPriority(int from, int to, int priority) {
        List<ScoringRequest> out = new ArrayList<>();
        for (int i = from; i < to; i++) {
            out.add(new ScoringRequest("ev-" + i, "user-" + i, priority, 1_000L + i, 2_000L + i, features.get(i)));
        }
        return out;
    }

    /** The normal lane's model held at the gate; the priority lane's client is left alone. */
    private static ModelClientFactory normalLaneGated() {
        return (settings, owner, metrics) -> DjlModelClient.open(settings, owner, metrics,
                predictor -> owner.endsWith("-priority") ? predictor : new InterceptedScorer(predictor, (batch, real) -> {
                    CALLS.incrementAndGet();
                    if (!gate.await(30, TimeUnit.SECONDS)) {
                        throw new IllegalStateException("gate never opened");
                    }
                    return real.score(batch);
                }));
    }

    /**
     * With a priority lane, priority batches go to a client of their own: they are scored and answered while the normal
     * lane's model is held, and each lane counts its own requests.
     */
    @Test
    void priorityBatchesAreAnsweredWhileTheNormalLanesModelIsHeld() throws Exception {
        gate = new CountDownLatch(1);
        CALLS.set(0);
        CapturingTaskGroup metrics = new CapturingTaskGroup();
        BatchingInferenceFunction function = new BatchingInferenceFunction(settings(1), normalLaneGated(),
                FeatureExtractor.LAYOUT, Duration.ofSeconds(30),
                new BatchingInferenceFunction.Lanes(4, false, 4));
        try (var harness = harness(function, 30_000, 100, metrics)) {
            harness.open();
            harness.processElement(requestsOfPriority(0, 8, 0), 0);
            awaitTrue(() -> CALLS.get() == 1, "the normal batch is inside the held model");
            harness.processElement(requestsOfPriority(8, 12, 2), 1);
            List<Prediction> urgent = awaitOutputs(harness, 4);
            assertThat(urgent).extracting(Prediction::getEventId).containsExactlyInAnyOrder("ev-8", "ev-9", "ev-10", "ev-11");
            assertThat(urgent).allSatisfy(p -> assertThat(p.getFallback()).isFalse());
            assertThat(count(metrics.lane("priority"), "predictions")).isEqualTo(4);
            assertThat(gauge(metrics.lane("normal"), "inFlight")).isEqualTo(8);

            gate.countDown();
            assertThat(awaitOutputs(harness, 12)).hasSize(12);
            assertThat(count(metrics.lane("normal"), "predictions")).isEqualTo(8);
            harness.endInput();
        }
    }

    /**
     * A shedding lane answers a batch at once with the class priors when all its calls wait for the model, instead of
     * queueing it; the batches it took are answered by the model.
     */
    @Test
    void aSheddingLaneAnswersAtOnceWhenTooManyRequestsWait() throws Exception {
        gate = new CountDownLatch(1);
        CALLS.set(0);
        CapturingTaskGroup metrics = new CapturingTaskGroup();
        BatchingInferenceFunction function = new BatchingInferenceFunction(settings(1), normalLaneGated(),
                FeatureExtractor.LAYOUT, Duration.ofSeconds(30),
                new BatchingInferenceFunction.Lanes(2, true, 0));
        try (var harness = harness(function, 30_000, 100, metrics)) {
            harness.open();
            harness.processElement(requestsOfPriority(0, 4, 0), 0);
            harness.processElement(requestsOfPriority(4, 8, 0), 1);
            harness.processElement(requestsOfPriority(8, 12, 0), 2); // both calls taken: shed
            List<Prediction> shed = awaitOutputs(harness, 4);
            assertThat(shed).extracting(Prediction::getEventId).containsExactlyInAnyOrder("ev-8", "ev-9", "ev-10", "ev-11");
            assertThat(shed).allSatisfy(p -> {
                assertFallbackWithPriors(p);
                assertThat(p.getFallbackReason()).isEqualTo("shed: all 2 calls to the model are taken");
                assertThat(p.getServedBy()).isEqualTo("priors");
            });
            assertThat(count(metrics.lane("normal"), "shed")).isEqualTo(4);

            gate.countDown();
            List<Prediction> all = awaitOutputs(harness, 12);
            assertThat(all).filteredOn(p -> !p.getFallback()).hasSize(8);
            harness.endInput();
        }
    }
}
