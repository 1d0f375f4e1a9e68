package dev.flinkai.operators.inference;

import dev.flinkai.operators.simulation.LabelledExamples;
import dev.flinkai.schemas.Prediction;

import org.apache.flink.api.common.serialization.SerializerConfigImpl;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.java.typeutils.runtime.kryo.KryoSerializer;
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
import org.apache.flink.streaming.runtime.tasks.mailbox.Mail;
import org.apache.flink.streaming.runtime.tasks.mailbox.TaskMailbox;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
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
import static org.assertj.core.api.Assertions.within;

/**
 * The function inside Flink's real async operator (test harness, manual processing time), scoring with the committed
 * model. Slow and failing models are the real model behind a fixture: a gate that holds the call, or a batch of the
 * wrong width handed to the real model.
 */
class BatchingInferenceFunctionTest {

    private static final TypeSerializer<ScoringRequest> REQUESTS =
            TypeInformation.of(ScoringRequest.class).createSerializer(new SerializerConfigImpl());

    private static DjlScorer reference;
    private static ModelMetadata metadata;
    private static List<float[]> features;

    @BeforeAll
    static void loadReference() throws Exception {
        reference = DjlScorer.load(ModelArtifacts.fetch(CommittedModel.uri(), null, null));
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

    private static InferenceSettings settings(int maxBatch, int workers) {
        return InferenceSettings.forModel(CommittedModel.uri()).maxBatchSize(maxBatch).maxWait(Duration.ofMillis(2)).workers(workers);
    }

    private static OneInputStreamOperatorTestHarness<ScoringRequest, Prediction> harness(BatchingInferenceFunction function,
                                                                                       long timeoutMillis, int capacity)
            throws Exception {
        var harness = new OneInputStreamOperatorTestHarness<ScoringRequest, Prediction>(
                new AsyncWaitOperatorFactory<>(function, timeoutMillis, capacity, AsyncDataStream.OutputMode.UNORDERED), REQUESTS);
        // This module has no flink-avro (the job has): copy outputs with Kryo instead of Flink's Avro type extraction.
        harness.setup(new KryoSerializer<>(Prediction.class, new SerializerConfigImpl()));
        return harness;
    }

    /** Runs the operator's mails (completions, timers) on this, the task thread, until {@code expected} outputs arrived. */
    private static List<Prediction> awaitOutputs(OneInputStreamOperatorTestHarness<ScoringRequest, Prediction> harness,
                                                 int expected) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            drainMailbox(harness);
            List<Prediction> out = harness.extractOutputValues();
            if (out.size() >= expected) {
                return out;
            }
            Thread.sleep(2);
        }
        throw new AssertionError("only " + harness.extractOutputValues().size() + " of " + expected + " predictions arrived");
    }

    private static void drainMailbox(OneInputStreamOperatorTestHarness<ScoringRequest, Prediction> harness) throws Exception {
        TaskMailbox mailbox = harness.getTaskMailbox();
        Optional<Mail> mail;
        while ((mail = mailbox.tryTake(TaskMailbox.MIN_PRIORITY)).isPresent()) {
            mail.get().run();
        }
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

    /** Counts what really reaches the model, per call. */
    static class RecordingFunction extends BatchingInferenceFunction {
        static final List<Integer> CALL_SIZES = new CopyOnWriteArrayList<>();

        RecordingFunction(InferenceSettings settings) {
            super(settings, Duration.ofSeconds(30));
        }

        @Override
        protected BatchScorer createWorkerScorer(DjlScorer sharedModel) {
            BatchScorer real = super.createWorkerScorer(sharedModel);
            return new BatchScorer() {
                @Override
                public float[][] score(float[][] batch) throws Exception {
                    CALL_SIZES.add(batch.length);
                    return real.score(batch);
                }

                @Override
                public void close() {
                    real.close();
                }
            };
        }
    }

    @Test
    void batchedPredictionsMatchPerEventInferenceAndEveryRequestCompletes() throws Exception {
        int n = features.size();
        int maxBatch = 16;
        RecordingFunction.CALL_SIZES.clear();
        List<Prediction> out;
        try (var harness = harness(new RecordingFunction(settings(maxBatch, 2)), 30_000, n)) {
            harness.open();
            for (int i = 0; i < n; i++) {
                harness.processElement(request(i, features.get(i)), i);
            }
            out = awaitOutputs(harness, n);
            harness.endInput();
        }
        assertThat(out).hasSize(n);
        Map<String, Prediction> byId = byEventId(out);
        assertThat(byId).hasSize(n);
        assertThat(RecordingFunction.CALL_SIZES).allSatisfy(size -> assertThat(size).isBetween(1, maxBatch));
        assertThat(RecordingFunction.CALL_SIZES.stream().mapToInt(Integer::intValue).sum()).isEqualTo(n);

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
    static class GatedFunction extends BatchingInferenceFunction {
        static volatile CountDownLatch gate = new CountDownLatch(1);
        static final AtomicInteger ROWS_SCORED = new AtomicInteger();
        static final AtomicInteger CALLS = new AtomicInteger();

        GatedFunction(InferenceSettings settings, Duration timeout) {
            super(settings, timeout);
        }

        @Override
        protected BatchScorer createWorkerScorer(DjlScorer sharedModel) {
            BatchScorer real = super.createWorkerScorer(sharedModel);
            return new BatchScorer() {
                @Override
                public float[][] score(float[][] batch) throws Exception {
                    CALLS.incrementAndGet();
                    if (!gate.await(30, TimeUnit.SECONDS)) {
                        throw new IllegalStateException("gate never opened");
                    }
                    ROWS_SCORED.addAndGet(batch.length);
                    return real.score(batch);
                }

                @Override
                public void close() {
                    real.close();
                }
            };
        }
    }

    @Test
    void aModelSlowerThanTheTimeoutYieldsFallbacksAndTimedOutRequestsAreNotScored() throws Exception {
        GatedFunction.gate = new CountDownLatch(1);
        GatedFunction.ROWS_SCORED.set(0);
        GatedFunction.CALLS.set(0);
        long timeout = 100;
        int n = 10;
        try (var harness = harness(new GatedFunction(settings(4, 1), Duration.ofMillis(timeout)), timeout, 100)) {
            harness.open();
            harness.setProcessingTime(0);
            for (int i = 0; i < n; i++) {
                harness.processElement(request(i, features.get(i)), i);
            }
            // Wait until the worker is inside the model with its first batch; the function's own timeout answers all.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (GatedFunction.CALLS.get() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            assertThat(GatedFunction.CALLS).hasValue(1);
            List<Prediction> timedOut = awaitOutputs(harness, n);
            assertThat(timedOut).hasSize(n);
            assertThat(timedOut).allSatisfy(p -> {
                assertFallbackWithPriors(p);
                assertThat(p.getFallbackReason()).isEqualTo("timeout after 100 ms");
            });

            // The model answers again; a fresh request queues behind the timed-out ones and gets a real prediction.
            GatedFunction.gate.countDown();
            harness.processElement(request(n, features.get(n)), n);
            List<Prediction> all = awaitOutputs(harness, n + 1);
            harness.endInput();
            assertThat(all).hasSize(n + 1); // nothing completed twice
            Prediction fresh = byEventId(all).get("ev-" + n);
            assertThat(fresh.getFallback()).isFalse();
            // Only the batch already inside the model (at most 4) and the fresh request reached the model; the
            // timed-out requests still queued were skipped.
            assertThat(GatedFunction.ROWS_SCORED.get()).isBetween(2, 5);
        }
    }

    /** The real model, handed batches one column short while BROKEN is set: PyTorch itself rejects them. */
    static class MisfedFunction extends BatchingInferenceFunction {
        static final AtomicBoolean BROKEN = new AtomicBoolean();

        MisfedFunction(InferenceSettings settings) {
            super(settings, Duration.ofSeconds(30));
        }

        @Override
        protected BatchScorer createWorkerScorer(DjlScorer sharedModel) {
            BatchScorer real = super.createWorkerScorer(sharedModel);
            return new BatchScorer() {
                @Override
                public float[][] score(float[][] batch) throws Exception {
                    if (!BROKEN.get()) {
                        return real.score(batch);
                    }
                    float[][] narrow = new float[batch.length][];
                    for (int i = 0; i < batch.length; i++) {
                        narrow[i] = java.util.Arrays.copyOf(batch[i], batch[i].length - 1);
                    }
                    return real.score(narrow);
                }

                @Override
                public void close() {
                    real.close();
                }
            };
        }
    }

    @Test
    void aModelErrorYieldsFallbacksForItsBatchAndTheOperatorContinues() throws Exception {
        MisfedFunction.BROKEN.set(true);
        try (var harness = harness(new MisfedFunction(settings(64, 1)), 30_000, 100)) {
            harness.open();
            for (int i = 0; i < 5; i++) {
                harness.processElement(request(i, features.get(i)), i);
            }
            List<Prediction> failed = awaitOutputs(harness, 5);
            assertThat(failed).hasSize(5).allSatisfy(p -> {
                assertFallbackWithPriors(p);
                assertThat(p.getFallbackReason())
                        .startsWith("model error: ")
                        .contains("RuntimeError")
                        .contains("(31)")
                        .doesNotContain("\n");
            });

            MisfedFunction.BROKEN.set(false);
            for (int i = 5; i < 10; i++) {
                harness.processElement(request(i, features.get(i)), i);
            }
            List<Prediction> all = awaitOutputs(harness, 10);
            harness.endInput();
            assertThat(all).hasSize(10);
            assertThat(all.subList(5, 10)).allSatisfy(p -> assertThat(p.getFallback()).isFalse());
        } finally {
            MisfedFunction.BROKEN.set(false);
        }
    }

    @Test
    void requestsWithTheWrongFeatureCountGetFallbacksWithoutHarmingTheirNeighbours() throws Exception {
        int n = 20;
        try (var harness = harness(new BatchingInferenceFunction(settings(64, 1), Duration.ofSeconds(30)), 30_000, 100)) {
            harness.open();
            for (int i = 0; i < n; i++) {
                float[] f = features.get(i);
                if (i == 3) {
                    f = java.util.Arrays.copyOf(f, 31);
                } else if (i == 11) {
                    f = null;
                }
                harness.processElement(request(i, f), i);
            }
            List<Prediction> out = awaitOutputs(harness, n);
            harness.endInput();
            Map<String, Prediction> byId = byEventId(out);
            assertThat(byId).hasSize(n);
            assertFallbackWithPriors(byId.get("ev-3"));
            assertThat(byId.get("ev-3").getFallbackReason()).isEqualTo("invalid features: expected 32 values, got 31");
            assertFallbackWithPriors(byId.get("ev-11"));
            assertThat(byId.get("ev-11").getFallbackReason()).isEqualTo("invalid features: expected 32 values, got none");
            assertThat(out).filteredOn(p -> !p.getFallback()).hasSize(n - 2);
        }
    }

    /** Captures the operator's metrics; the "inference" subgroup is folded into it so metrics keep their short names. */
    static final class CapturingOperatorGroup extends InterceptingOperatorMetricGroup {
        @Override
        public MetricGroup addGroup(String name) {
            return "inference".equals(name) ? this : super.addGroup(name);
        }
    }

    static final class CapturingTaskGroup extends InterceptingTaskMetricGroup {
        final CapturingOperatorGroup operator = new CapturingOperatorGroup();

        @Override
        public InternalOperatorMetricGroup getOrAddOperator(OperatorID id, String name, Map<String, String> info) {
            return operator;
        }
    }

    @Test
    void reportsBatchSizesLatenciesCountersAndInFlight() throws Exception {
        int n = 40;
        int maxBatch = 8;
        CapturingTaskGroup metrics = new CapturingTaskGroup();
        MockEnvironment environment = new MockEnvironmentBuilder().setTaskName("inference-metrics")
                .setManagedMemorySize(3 * 1024 * 1024).setBufferSize(1024).setMetricGroup(metrics).build();
        BatchingInferenceFunction function = new BatchingInferenceFunction(settings(maxBatch, 1), Duration.ofSeconds(30));
        try (var harness = new OneInputStreamOperatorTestHarness<ScoringRequest, Prediction>(
                new AsyncWaitOperatorFactory<>(function, 30_000, 100, AsyncDataStream.OutputMode.UNORDERED), REQUESTS, environment)) {
            harness.setup(new KryoSerializer<>(Prediction.class, new SerializerConfigImpl()));
            harness.open();
            for (int i = 0; i < n; i++) {
                harness.processElement(request(i, i == 7 ? new float[3] : features.get(i)), i);
            }
            awaitOutputs(harness, n);

            CapturingOperatorGroup group = metrics.operator;
            assertThat(((Counter) group.get("predictions")).getCount()).isEqualTo(n - 1);
            assertThat(((Counter) group.get("fallbacks")).getCount()).isEqualTo(1);
            assertThat(((Counter) group.get("invalidRequests")).getCount()).isEqualTo(1);
            assertThat(((Counter) group.get("timeouts")).getCount()).isZero();
            assertThat(((Counter) group.get("modelErrors")).getCount()).isZero();
            assertThat(((Gauge<?>) group.get("inFlight")).getValue()).isEqualTo(0);
            assertThat(((Gauge<?>) group.get("queued")).getValue()).isEqualTo(0);
            Histogram batchSize = (Histogram) group.get("batchSize");
            assertThat(batchSize.getCount()).isBetween((long) Math.ceil((n - 1) / (double) maxBatch), (long) n - 1);
            assertThat(batchSize.getStatistics().getMax()).isBetween(1L, (long) maxBatch);
            assertThat(batchSize.getStatistics().getMean() * batchSize.getCount()).isCloseTo(n - 1, within(1e-6));
            Histogram latency = (Histogram) group.get("latencyMicros");
            assertThat(latency.getCount()).isEqualTo(n);
            assertThat(latency.getStatistics().getMin()).isGreaterThanOrEqualTo(0L);
            harness.endInput();
        }
    }
}
