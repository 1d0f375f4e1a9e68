package dev.flinkai.operators.inference.remote;

import dev.flinkai.operators.inference.ModelMetadata;
import dev.flinkai.operators.inference.djl.BatchScorer;
import dev.flinkai.operators.inference.djl.DjlModel;
import dev.flinkai.operators.testing.CommittedModel;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;

import java.io.IOException;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An Open Inference Protocol endpoint on okhttp's MockWebServer (a real HTTP server in this JVM) that really answers:
 * inference requests are scored by the committed model through DJL. Tests put faults in front of the next calls
 * ({@link #fault}: a status, a delay, a reset connection, a body that is not an answer) and can change the metadata it
 * describes itself with. It answers under the model's URI and under that of the version it serves.
 */
public final class ModelEndpointFixture implements AutoCloseable {

    public static final String MODEL = "next-event-mlp";
    private static final ObjectMapper JSON = new ObjectMapper();

    final MockWebServer server = new MockWebServer();
    public final AtomicInteger inferCalls = new AtomicInteger();
    private final BlockingQueue<MockResponse> faults = new LinkedBlockingQueue<>();
    private final DjlModel model;
    private final BatchScorer predictor;
    volatile ObjectNode metadata;
    volatile boolean ready = true;
    volatile String version = "1.0.0";

    public ModelEndpointFixture() throws IOException {
        model = DjlModel.load(CommittedModel.modelFile(), ModelMetadata.read(CommittedModel.metadataFile()));
        predictor = model.newPredictor();
        metadata = defaultMetadata(model.metadata());
        server.setDispatcher(new Dispatcher() {
            @Override
            public MockResponse dispatch(RecordedRequest request) {
                return answer(request);
            }
        });
        server.start(0);
    }

    public String modelUri() {
        return server.url("/v2/models/" + MODEL).toString();
    }

    /** The URI of the version it serves ({@code .../versions/<v>}): the same model, pinned. */
    public String versionedUri() {
        return server.url("/v2/models/" + MODEL + "/versions/" + version).toString();
    }

    ModelMetadata metadataOfTheModel() {
        return model.metadata();
    }

    /** The next inference call gets this instead of an answer. */
    public void fault(MockResponse response) {
        faults.add(response);
    }

    static ObjectNode defaultMetadata(ModelMetadata m) {
        ObjectNode meta = JSON.createObjectNode();
        meta.put("name", MODEL);
        meta.putArray("versions").add(m.version());
        meta.put("platform", "pytorch_torchscript");
        ObjectNode input = meta.putArray("inputs").addObject();
        input.put("name", "features").put("datatype", "FP32");
        input.putArray("shape").add(-1).add(m.featureCount());
        ObjectNode output = meta.putArray("outputs").addObject();
        output.put("name", "probabilities").put("datatype", "FP32");
        output.putArray("shape").add(-1).add(m.classCount());
        ObjectNode parameters = meta.putObject("parameters");
        ArrayNode labels = parameters.putArray("labels");
        m.labels().forEach(labels::add);
        ArrayNode priors = parameters.putArray("class_priors");
        for (float p : m.classPriors()) {
            priors.add(p);
        }
        return meta;
    }

    private MockResponse answer(RecordedRequest request) {
        String path = request.getUrl().encodedPath().replace("/versions/" + version, "");
        if (path.equals("/v2/health/ready") || path.equals("/v2/models/" + MODEL + "/ready")) {
            return ready ? json(200, "{}") : json(503, "{\"error\": \"not ready\"}");
        }
        if (path.equals("/v2/models/" + MODEL)) {
            return json(200, metadata.toString());
        }
        if (path.equals("/v2/models/" + MODEL + "/infer")) {
            inferCalls.incrementAndGet();
            MockResponse fault = faults.poll();
            return fault != null ? fault : infer(request);
        }
        return json(404, "{\"error\": \"no model at " + path + "\"}");
    }

    private MockResponse infer(RecordedRequest request) {
        try {
            JsonNode body = JSON.readTree(request.getBody().utf8());
            JsonNode input = body.get("inputs").get(0);
            int rows = input.get("shape").get(0).asInt();
            int width = input.get("shape").get(1).asInt();
            JsonNode data = input.get("data");
            float[][] batch = new float[rows][width];
            for (int i = 0; i < rows * width; i++) {
                batch[i / width][i % width] = (float) data.get(i).asDouble();
            }
            float[][] scores;
            synchronized (predictor) {
                scores = predictor.score(batch);
            }
            ObjectNode answer = JSON.createObjectNode();
            answer.put("model_name", MODEL).put("model_version", version);
            ObjectNode output = answer.putArray("outputs").addObject();
            output.put("name", "probabilities").put("datatype", "FP32");
            output.putArray("shape").add(rows).add(scores.length == 0 ? 0 : scores[0].length);
            ArrayNode values = output.putArray("data");
            for (float[] row : scores) {
                for (float v : row) {
                    values.add(v);
                }
            }
            return json(200, answer.toString());
        } catch (Exception e) {
            return json(400, "{\"error\": \"" + e.getMessage() + "\"}");
        }
    }

    static MockResponse json(int status, String body) {
        return new MockResponse.Builder().code(status).setHeader("Content-Type", "application/json").body(body).build();
    }

    @Override
    public void close() {
        server.close();
        predictor.close();
        model.close();
    }
}
