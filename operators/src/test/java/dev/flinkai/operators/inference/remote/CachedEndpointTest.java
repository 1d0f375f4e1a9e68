package dev.flinkai.operators.inference.remote;

import dev.flinkai.operators.inference.ModelAnswer;
import dev.flinkai.operators.inference.ModelClient;
import dev.flinkai.operators.inference.ModelClients;
import dev.flinkai.operators.inference.ModelSettings;
import dev.flinkai.operators.inference.cache.CachingModelClient;
import dev.flinkai.operators.testing.CommittedModel;

import org.apache.flink.metrics.Counter;
import org.apache.flink.runtime.metrics.util.InterceptingOperatorMetricGroup;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The result cache as {@link ModelClients} puts it around a remote model with an in-process fallback, against a real
 * HTTP server answering with the committed model: only the endpoint's own answers are cached, never the fallback's,
 * cached rows are answered while the endpoint is down, and an endpoint URI that does not pin a version is refused.
 */
class CachedEndpointTest {

    private ModelEndpointFixture endpoint;
    private InterceptingOperatorMetricGroup metrics;

    @BeforeEach
    void start() throws Exception {
        endpoint = new ModelEndpointFixture();
        metrics = new InterceptingOperatorMetricGroup();
    }

    @AfterEach
    void stop() {
        endpoint.close();
    }

    private static ModelAnswer await(ModelClient client, float[][] rows) throws Exception {
        return client.score(rows, Long.MAX_VALUE).get(20, TimeUnit.SECONDS);
    }

    @Test
    void onlyTheEndpointsOwnAnswersAreCachedNeverTheFallbacks() throws Exception {
        float[][] rows = OipModelClientTest.rows(3);
        ModelSettings settings = ModelSettings.forModel(endpoint.versionedUri()).fallbackUri(CommittedModel.uri())
                .cacheSize(100);
        try (ModelClient client = ModelClients.open(settings, "test", metrics)) {
            endpoint.fault(ModelEndpointFixture.json(500, "{\"error\": \"model crashed\"}"));
            ModelAnswer fallback = await(client, rows);
            assertThat(fallback.servedBy()).isEqualTo(ModelAnswer.LOCAL);
            assertThat(fallback.fallbackReason()).startsWith("remote RemoteModelException: HTTP 500");

            ModelAnswer remote = await(client, rows);
            assertThat(remote.servedBy()).isEqualTo(ModelAnswer.REMOTE);
            assertThat(remote.fallbackReason()).isNull();
            assertThat(endpoint.inferCalls).as("the fallback's answer was not cached").hasValue(2);

            for (int i = 0; i < 3; i++) {
                endpoint.fault(ModelEndpointFixture.json(503, "{\"error\": \"down\"}"));
            }
            ModelAnswer cached = await(client, rows);
            assertThat(endpoint.inferCalls).as("cached rows need no call").hasValue(2);
            assertThat(cached.servedBy()).isEqualTo(ModelAnswer.REMOTE);
            assertThat(cached.fallbackReason()).isNull();
            assertThat(cached.model().version()).isEqualTo(endpoint.version);
            for (int i = 0; i < rows.length; i++) {
                assertThat(cached.scores()[i]).containsExactly(remote.scores()[i]);
            }
            assertThat(((Counter) metrics.get("cacheHits")).getCount()).isEqualTo(3);
            assertThat(((Counter) metrics.get("cacheMisses")).getCount()).isEqualTo(6);
        }
    }

    /**
     * Why the cache needs a pinned version, and what it does when a client breaks that: answers of another version
     * than the client's are neither cached nor merged with cached ones (but a batch whose rows are all cached would
     * not see the change, so {@link ModelClients} refuses such an endpoint).
     */
    @Test
    void anAnswerOfAnotherVersionIsNeverMixedWithCachedAnswersNorCached() throws Exception {
        float[][] rows = OipModelClientTest.rows(3);
        try (CachingModelClient client = new CachingModelClient(OipModelClient.open(endpoint.modelUri(), null, null, 4,
                Duration.ofSeconds(2), Duration.ofSeconds(2), false), 100, metrics)) {
            await(client, new float[][] {rows[0], rows[1]});
            endpoint.version = "1.1.0"; // the server now serves another version under the same URI

            ModelAnswer answer = await(client, new float[][] {rows[0], rows[2]});
            assertThat(answer.model().version()).isEqualTo("1.1.0");
            assertThat(endpoint.inferCalls).as("row 2, then the whole batch from the new version").hasValue(3);
            await(client, new float[][] {rows[2]});
            assertThat(endpoint.inferCalls).as("1.1.0's answers are not cached as 1.0.0's").hasValue(4);
        }
    }

    @Test
    void anEndpointThatDoesNotPinItsVersionIsNotCached() {
        ModelSettings unpinned = ModelSettings.forModel(endpoint.modelUri()).cacheSize(100);
        assertThatThrownBy(() -> ModelClients.open(unpinned, "test", metrics))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("/versions/<v>")
                .hasMessageContaining(endpoint.modelUri());
        assertThat(endpoint.inferCalls).hasValue(0);
    }
}
