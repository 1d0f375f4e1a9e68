package dev.flinkai.operators.inference.cache;

import dev.flinkai.operators.features.FeatureExtractor;
import dev.flinkai.operators.inference.ModelAnswer;
import dev.flinkai.operators.inference.ModelClient;
import dev.flinkai.operators.inference.ModelSettings;
import dev.flinkai.operators.inference.djl.DjlModelClient;
import dev.flinkai.operators.inference.resilience.FallbackModelClient;
import dev.flinkai.operators.simulation.LabelledExamples;
import dev.flinkai.operators.testing.CommittedModel;
import dev.flinkai.operators.testing.InterceptedScorer;

import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.runtime.metrics.util.InterceptingOperatorMetricGroup;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * The result cache around the real in-process models (version 1 reads 32 features, version 2 all 38) on real feature
 * rows of simulated users: cached rows get the model's own answer back and never reach it again, one version's
 * answers never come from another's, the size bound evicts and counts, and neither fallback answers nor failures are
 * cached. The rows that reach the model are counted in front of its real predictor.
 */
class CachingModelClientTest {

    private static float[][] rows;
    private InterceptingOperatorMetricGroup metrics;
    /** Rows the wrapped model scored, and the calls it got. */
    private final List<Integer> modelCalls = new ArrayList<>();
    private final AtomicBoolean broken = new AtomicBoolean();

    @BeforeAll
    static void features() {
        List<float[]> distinct = new ArrayList<>(); // distinct in what each version reads: the first 32 features
        LabelledExamples.generate(5, 50, 0.8, 200, (f, label) -> {
            if (distinct.stream().noneMatch(d -> Arrays.equals(d, 0, FeatureExtractor.CONTEXT_FEATURE_COUNT, f, 0,
                    FeatureExtractor.CONTEXT_FEATURE_COUNT))) {
                distinct.add(f.clone());
            }
        });
        rows = distinct.stream().limit(16).toArray(float[][]::new);
        assertThat(rows.length).isEqualTo(16);
        assertThat(rows[0]).hasSize(FeatureExtractor.FEATURE_COUNT);
    }

    @BeforeEach
    void freshMetrics() {
        metrics = new InterceptingOperatorMetricGroup();
    }

    /** The committed model (version 1) or another file, its calls counted and breakable with {@link #broken}. */
    private DjlModelClient model(String uri) throws Exception {
        return DjlModelClient.open(ModelSettings.forModel(uri), "cache-test", new InterceptingOperatorMetricGroup(),
                predictor -> new InterceptedScorer(predictor, (batch, real) -> {
                    if (broken.get()) {
                        throw new IllegalStateException("the model is broken");
                    }
                    synchronized (modelCalls) {
                        modelCalls.add(batch.length);
                    }
                    return real.score(batch);
                }));
    }

    private static String v2Uri() {
        return CommittedModel.modelFile().resolveSibling("next_event_mlp_v2.pt").toUri().toString();
    }

    private static float[][] pick(int... indexes) {
        return Arrays.stream(indexes).mapToObj(i -> rows[i]).toArray(float[][]::new);
    }

    private static ModelAnswer await(CompletableFuture<ModelAnswer> answer) throws Exception {
        return answer.get(30, TimeUnit.SECONDS);
    }

    private long counter(String name) {
        return ((Counter) metrics.get(name)).getCount();
    }

    @SuppressWarnings("unchecked")
    private long size() {
        return ((Gauge<Long>) metrics.get("cacheSize")).getValue();
    }

    /** The model's own answer to {@code batch}, from a client of its own. */
    private static float[][] reference(String uri, float[][] batch) throws Exception {
        try (DjlModelClient plain = DjlModelClient.open(ModelSettings.forModel(uri), "reference",
                new InterceptingOperatorMetricGroup())) {
            return await(plain.score(batch, Long.MAX_VALUE)).scores();
        }
    }

    @Test
    void cachedRowsGetTheModelsOwnAnswerAndOnlyTheOthersReachTheModel() throws Exception {
        try (CachingModelClient client = new CachingModelClient(model(CommittedModel.uri()), 100, metrics)) {
            ModelAnswer first = await(client.score(pick(0, 1, 2, 3), Long.MAX_VALUE));
            assertThat(modelCalls).containsExactly(4);

            ModelAnswer mixed = await(client.score(pick(2, 5, 0, 6), Long.MAX_VALUE));
            assertThat(modelCalls).as("the two new rows, in one call").containsExactly(4, 2);
            assertThat(mixed.scores()[0]).containsExactly(first.scores()[2]);
            assertThat(mixed.scores()[2]).containsExactly(first.scores()[0]);
            float[][] own = reference(CommittedModel.uri(), pick(2, 5, 0, 6));
            for (int i = 0; i < 4; i++) {
                assertThat(mixed.scores()[i]).containsExactly(own[i], within(1e-5f));
            }

            float[][] copies = {rows[6].clone(), rows[1].clone()};
            ModelAnswer cached = await(client.score(copies, Long.MAX_VALUE));
            assertThat(modelCalls).as("every row cached: no call").containsExactly(4, 2);
            assertThat(cached.scores()[0]).containsExactly(mixed.scores()[3]);
            assertThat(cached.scores()[1]).containsExactly(first.scores()[1]);
            assertThat(cached.model().version()).isEqualTo("1.0.0");
            assertThat(cached.servedBy()).isEqualTo(ModelAnswer.LOCAL);
            assertThat(cached.fallbackReason()).isNull();

            cached.scores()[0][0] = 42f; // the caller's copy
            assertThat(await(client.score(pick(6), Long.MAX_VALUE)).scores()[0]).containsExactly(mixed.scores()[3]);
            assertThat(counter("cacheHits")).isEqualTo(2 + 2 + 1);
            assertThat(counter("cacheMisses")).isEqualTo(4 + 2);
            assertThat(size()).isEqualTo(6);
        }
    }

    @Test
    void rowsThatDifferOnlyInFeaturesTheModelDoesNotReadShareItsAnswer() throws Exception {
        float[] otherProfile = rows[0].clone();
        otherProfile[FeatureExtractor.CONTEXT_FEATURE_COUNT + 2] += 1f; // a profile feature: version 1 reads 32
        try (CachingModelClient v1 = new CachingModelClient(model(CommittedModel.uri()), 100, metrics)) {
            await(v1.score(new float[][] {rows[0]}, Long.MAX_VALUE));
            await(v1.score(new float[][] {otherProfile}, Long.MAX_VALUE));
            assertThat(modelCalls).containsExactly(1);
        }
        modelCalls.clear();
        try (CachingModelClient v2 = new CachingModelClient(model(v2Uri()), 100, new InterceptingOperatorMetricGroup())) {
            await(v2.score(new float[][] {rows[0]}, Long.MAX_VALUE));
            await(v2.score(new float[][] {otherProfile}, Long.MAX_VALUE));
            assertThat(modelCalls).as("version 2 reads all 38").containsExactly(1, 1);
        }
    }

    /** A swap opens the new version's client: its cache starts empty and holds only its own answers. */
    @Test
    void afterASwapTheAnswersAreTheNewVersionsOwnNeverTheOldOnesCached() throws Exception {
        float[][] batch = pick(0, 1, 2, 3, 4, 5, 6, 7);
        ModelAnswer oldAnswer;
        try (CachingModelClient v1 = new CachingModelClient(model(CommittedModel.uri()), 100,
                new InterceptingOperatorMetricGroup())) {
            oldAnswer = await(v1.score(batch, Long.MAX_VALUE));
            await(v1.score(batch, Long.MAX_VALUE));
        }
        float[][] v2Own = reference(v2Uri(), batch);
        try (CachingModelClient v2 = new CachingModelClient(model(v2Uri()), 100, metrics)) {
            for (int round = 0; round < 2; round++) {
                ModelAnswer answer = await(v2.score(batch, Long.MAX_VALUE));
                assertThat(answer.model().version()).isEqualTo("2.0.0");
                for (int i = 0; i < batch.length; i++) {
                    assertThat(answer.scores()[i]).containsExactly(v2Own[i], within(1e-5f));
                }
                assertThat(Arrays.deepEquals(answer.scores(), oldAnswer.scores())).isFalse();
            }
            assertThat(counter("cacheMisses")).as("nothing of version 1's").isEqualTo(batch.length);
            assertThat(counter("cacheHits")).isEqualTo(batch.length);
        }
    }

    @Test
    void beyondItsSizeTheCacheEvictsAndCountsIt() throws Exception {
        try (CachingModelClient client = new CachingModelClient(model(CommittedModel.uri()), 4, metrics)) {
            for (int i = 0; i < 10; i += 2) {
                await(client.score(pick(i, i + 1), Long.MAX_VALUE));
            }
            assertThat(counter("cacheEvictions")).isEqualTo(6);
            assertThat(size()).isEqualTo(4);
            await(client.score(pick(0, 1, 2, 3, 4, 5, 6, 7, 8, 9), Long.MAX_VALUE));
            assertThat(counter("cacheHits")).as("at most what it holds").isBetween(0L, 4L);
        }
    }

    @Test
    void aFailedCallFailsTheBatchAndCachesNothing() throws Exception {
        try (CachingModelClient client = new CachingModelClient(model(CommittedModel.uri()), 100, metrics)) {
            await(client.score(pick(0), Long.MAX_VALUE));
            broken.set(true);
            CompletableFuture<ModelAnswer> failed = client.score(pick(0, 1), Long.MAX_VALUE);
            assertThatThrownBy(() -> await(failed)).isInstanceOf(ExecutionException.class)
                    .hasRootCauseMessage("the model is broken");
            broken.set(false);
            await(client.score(pick(0, 1), Long.MAX_VALUE));
            assertThat(modelCalls).as("row 1 was not cached by the failed call").containsExactly(1, 1);

            CompletableFuture<ModelAnswer> noRow = client.score(new float[][] {null}, Long.MAX_VALUE);
            assertThat(noRow).as("the seam fails the future, never the call").isCompletedExceptionally();
        }
    }

    /**
     * Fallback answers are passed on uncached, even from the same model (as a remote model's in-process fallback is),
     * and a batch is never half cached, half fallback.
     */
    @Test
    void fallbackAnswersAreNeverCachedNorMixedWithCachedOnes() throws Exception {
        ModelClient primary = model(CommittedModel.uri());
        ModelClient secondary = DjlModelClient.open(ModelSettings.forModel(CommittedModel.uri()), "secondary",
                new InterceptingOperatorMetricGroup());
        try (CachingModelClient client = new CachingModelClient(new FallbackModelClient(primary, "primary", secondary,
                metrics), 100, metrics)) {
            broken.set(true);
            ModelAnswer fallback = await(client.score(pick(0, 1), Long.MAX_VALUE));
            assertThat(fallback.fallbackReason()).contains("the model is broken");
            assertThat(fallback.model().version()).isEqualTo("1.0.0");
            assertThat(size()).isZero();

            broken.set(false);
            ModelAnswer own = await(client.score(pick(0, 1), Long.MAX_VALUE));
            assertThat(own.fallbackReason()).isNull();
            assertThat(modelCalls).as("the rows reached the model: the fallback's answer was not cached")
                    .containsExactly(2);

            broken.set(true);
            ModelAnswer whole = await(client.score(pick(0, 2), Long.MAX_VALUE));
            assertThat(whole.fallbackReason()).as("row 2 fell back, so the whole batch did").contains("broken");
            assertThat(whole.scores()).hasDimensions(2, 4);
            assertThat(counter("fallbacksToSecondary")).as("row 2 alone, then the whole batch").isEqualTo(3);
            assertThat(size()).as("rows 0 and 1, the model's own answers").isEqualTo(2);

            broken.set(false);
            await(client.score(pick(2), Long.MAX_VALUE));
            assertThat(modelCalls).as("row 2's fallback answer was not cached").containsExactly(2, 1);
        }
    }
}
