package dev.flinkai.operators.inference.remote;

import dev.flinkai.operators.inference.ModelAnswer;
import dev.flinkai.operators.inference.ModelMetadata;
import dev.flinkai.operators.inference.djl.BatchScorer;
import dev.flinkai.operators.inference.djl.DjlModel;
import dev.flinkai.operators.testing.CommittedModel;

import mockwebserver3.MockResponse;
import mockwebserver3.RecordedRequest;
import mockwebserver3.SocketEffect;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** The Open Inference Protocol client against a real HTTP server answering with the committed model. */
class OipModelClientTest {

    private ModelEndpointFixture endpoint;

    @BeforeEach
    void start() throws Exception {
        endpoint = new ModelEndpointFixture();
    }

    @AfterEach
    void stop() {
        endpoint.close();
    }

    private OipModelClient open(ModelMetadata known) throws Exception {
        return OipModelClient.open(endpoint.modelUri(), known, null, 4, Duration.ofSeconds(2), Duration.ofSeconds(2), false);
    }

    static float[][] rows(int n) {
        float[][] rows = new float[n][];
        for (int i = 0; i < n; i++) {
            rows[i] = CommittedModel.SAMPLE_BATCH[i % CommittedModel.SAMPLE_BATCH.length].clone();
            rows[i][i % 32] += i / 100f;
        }
        return rows;
    }

    @Test
    void aMicroBatchIsOneRequestOfOneTensorAndTheAnswerIsTheModels() throws Exception {
        float[][] rows = rows(64);
        try (OipModelClient client = open(null);
             DjlModel model = DjlModel.load(CommittedModel.modelFile(), ModelMetadata.read(CommittedModel.metadataFile()));
             BatchScorer reference = model.newPredictor()) {
            assertThat(client.metadata().labels()).isEqualTo(model.metadata().labels());
            assertThat(client.metadata().featureCount()).isEqualTo(32);
            endpoint.version = "7";
            ModelAnswer answer = client.score(rows, Long.MAX_VALUE).get(10, TimeUnit.SECONDS);

            assertThat(endpoint.inferCalls).hasValue(1);
            assertThat(answer.servedBy()).isEqualTo(ModelAnswer.REMOTE);
            assertThat(answer.fallbackReason()).isNull();
            assertThat(answer.model().version()).as("the version the server named").isEqualTo("7");
            float[][] expected = reference.score(rows);
            for (int i = 0; i < rows.length; i++) {
                for (int c = 0; c < 4; c++) {
                    assertThat(answer.scores()[i][c]).isCloseTo(expected[i][c], within(1e-6f));
                }
            }
        }
        RecordedRequest health = endpoint.server.takeRequest();
        assertThat(health.getUrl().encodedPath()).isEqualTo("/v2/health/ready");
        assertThat(endpoint.server.takeRequest().getUrl().encodedPath()).isEqualTo("/v2/models/next-event-mlp/ready");
        assertThat(endpoint.server.takeRequest().getUrl().encodedPath()).isEqualTo("/v2/models/next-event-mlp");
        RecordedRequest infer = endpoint.server.takeRequest();
        assertThat(infer.getMethod()).isEqualTo("POST");
        assertThat(infer.getBody().utf8()).contains("\"shape\":[64,32]").contains("\"datatype\":\"FP32\"")
                .doesNotContain("priority");
    }

    @Test
    void aClientOfThePriorityLaneAsksForItsLevel() throws Exception {
        try (OipModelClient client = open(null).requestPriority(1)) {
            client.score(rows(2), Long.MAX_VALUE).get(10, TimeUnit.SECONDS);
        }
        for (int i = 0; i < 3; i++) {
            endpoint.server.takeRequest(); // readiness and metadata
        }
        assertThat(endpoint.server.takeRequest().getBody().utf8()).endsWith(",\"parameters\":{\"priority\":1}}");
    }

    @Test
    void gzippedRequestsSayTheirEncoding() throws Exception {
        try (OipModelClient client = OipModelClient.open(endpoint.modelUri(), null, null, 4, Duration.ofSeconds(2),
                Duration.ofSeconds(2), true)) {
            endpoint.fault(ModelEndpointFixture.json(200, "{\"outputs\": [{\"name\": \"p\", \"shape\": [1, 4], "
                    + "\"datatype\": \"FP32\", \"data\": [0.1, 0.2, 0.3, 0.4]}]}"));
            client.score(rows(1), Long.MAX_VALUE).get(10, TimeUnit.SECONDS);
        }
        RecordedRequest infer = null;
        for (int i = 0; i < 4; i++) {
            infer = endpoint.server.takeRequest();
        }
        assertThat(infer.getHeaders().get("Content-Encoding")).isEqualTo("gzip");
        assertThat(infer.getBody().toByteArray()[0]).as("gzip magic").isEqualTo((byte) 0x1f);
    }

    @Test
    void openRefusesAServerOrModelThatIsNotReadyOrDoesNotFit() throws Exception {
        endpoint.ready = false;
        assertThatThrownBy(() -> open(null)).hasMessageContaining("is not ready").hasMessageContaining("HTTP 503");
        endpoint.ready = true;

        ModelMetadata committed = endpoint.metadataOfTheModel();
        ModelMetadata otherLabels = new ModelMetadata(committed.name(), "x", List.of("A", "B", "C", "D"), 32,
                committed.classPriors());
        assertThatThrownBy(() -> open(otherLabels)).hasMessageContaining("has labels " + committed.labels())
                .hasMessageContaining("[A, B, C, D]");

        ((com.fasterxml.jackson.databind.node.ObjectNode) endpoint.metadata.get("parameters")).put("sha256", "ab".repeat(32));
        assertThatThrownBy(() -> OipModelClient.open(endpoint.modelUri(), null, "cd".repeat(32), 4, Duration.ofSeconds(2),
                Duration.ofSeconds(2), false)).hasMessageContaining("serves a file of SHA-256 " + "ab".repeat(32))
                .hasMessageContaining("expected " + "cd".repeat(32));
        OipModelClient.open(endpoint.modelUri(), null, "AB".repeat(32), 4, Duration.ofSeconds(2), Duration.ofSeconds(2),
                false).close(); // the same checksum, in other letters

        ((com.fasterxml.jackson.databind.node.ArrayNode) endpoint.metadata.withArray("outputs").get(0).get("shape"))
                .set(1, 5);
        assertThatThrownBy(() -> open(null)).hasMessageContaining("returns 5 values per row")
                .hasMessageContaining("4 labels");

        endpoint.metadata = ModelEndpointFixture.defaultMetadata(committed);
        endpoint.metadata.remove("parameters");
        assertThatThrownBy(() -> open(null)).hasMessageContaining("parameters.labels")
                .hasMessageContaining("model.fallback-uri");
        try (OipModelClient withKnown = open(committed)) {
            assertThat(withKnown.metadata().labels()).as("taken from the fallback model").isEqualTo(committed.labels());
        }
        assertThatThrownBy(() -> OipModelClient.parseEndpoint("http://host:1/v1/models/x"))
                .hasMessageContaining("/v2/models/<name>");
    }

    @Test
    void answersThatAreNotAnAnswerFailTheCallNotTheClient() throws Exception {
        try (OipModelClient client = open(null)) {
            assertFailure(client, ModelEndpointFixture.json(200, "<html>oops</html>"), "not JSON", false);
            assertFailure(client, ModelEndpointFixture.json(200, "{\"outputs\": [{\"shape\": [2, 4], \"data\": "
                    + "[1, 2, 3, 4, 5, 6, 7, 8]}]}"), "expected [3, 4]", false);
            assertFailure(client, ModelEndpointFixture.json(200, "{\"model_name\": \"m\"}"), "no outputs", false);
            assertFailure(client, ModelEndpointFixture.json(500, "{\"error\": \"boom\"}"), "HTTP 500: {\"error\": \"boom\"}",
                    false);
            assertFailure(client, ModelEndpointFixture.json(400, "{\"error\": \"bad\"}"), "HTTP 400", false);
            assertFailure(client, ModelEndpointFixture.json(503, "{\"error\": \"busy\"}"), "HTTP 503", true);
            assertFailure(client, ModelEndpointFixture.json(429, "{\"error\": \"slow down\"}"), "HTTP 429", true);
            assertFailure(client, new MockResponse.Builder()
                    .onResponseStart(new SocketEffect.CloseSocket(true, false, false)).build(), "", true);
            assertFailure(client, ModelEndpointFixture.json(200, ""), "not an object", false);
            // and the client still works
            assertThat(client.score(rows(3), Long.MAX_VALUE).get(10, TimeUnit.SECONDS).scores()).hasDimensions(3, 4);
        }
    }

    @Test
    void anAnswerSlowerThanTheCallTimeoutIsATimeoutNotAModelError() throws Exception {
        try (OipModelClient client = OipModelClient.open(endpoint.modelUri(), null, null, 4, Duration.ofSeconds(2),
                Duration.ofMillis(200), false)) {
            endpoint.fault(new MockResponse.Builder().code(200).headersDelay(2, TimeUnit.SECONDS).body("{}").build());
            assertThatThrownBy(() -> client.score(rows(3), Long.MAX_VALUE).get(10, TimeUnit.SECONDS))
                    .isInstanceOf(ExecutionException.class)
                    .cause().isInstanceOf(TimeoutException.class).hasMessageContaining("call timeout");
        }
    }

    private void assertFailure(OipModelClient client, MockResponse fault, String message, boolean retryable) {
        endpoint.fault(fault);
        assertThatThrownBy(() -> client.score(rows(3), Long.MAX_VALUE).get(10, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class)
                .cause().isInstanceOf(RemoteModelException.class)
                .hasMessageContaining(message)
                .satisfies(e -> assertThat(((RemoteModelException) e).retryable()).as("retryable").isEqualTo(retryable));
    }
}
