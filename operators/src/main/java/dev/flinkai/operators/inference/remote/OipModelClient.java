package dev.flinkai.operators.inference.remote;

import dev.flinkai.operators.inference.ModelAnswer;
import dev.flinkai.operators.inference.ModelClient;
import dev.flinkai.operators.inference.ModelMetadata;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.StreamWriteFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import okhttp3.Call;
import okhttp3.Callback;
import okhttp3.ConnectionPool;
import okhttp3.Dispatcher;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.zip.GZIPOutputStream;

/**
 * A model endpoint that speaks the Open Inference Protocol (KServe v2) over HTTP: one {@code POST .../infer} per
 * batch, the rows as one {@code [n, features]} FP32 tensor. Connections are pooled and kept alive; HTTP/2 is used
 * where the server offers it (TLS with ALPN), HTTP/1.1 otherwise; request bodies are gzipped when asked to.
 *
 * <p>{@link #open} checks the server and the model are ready and that the model's metadata fits: one FP32 input of
 * {@code [-1, features]}, one FP32 output of one probability per label (the inference function then checks the
 * feature count against the job's). Labels and class priors come from the
 * metadata's {@code parameters} (this project's model server sends them) or, for servers that do not, from
 * {@code known} (the fallback model's metadata). A mismatch fails at open, naming both sides.
 *
 * <p>Every failure of a call completes its future with a {@link RemoteModelException}: an error status, a body that
 * is not JSON or not a tensor of the right shape, a refused or reset connection. Cancelling the future cancels the
 * HTTP call. The model version the server names in its answer is the version the answer carries.
 */
public final class OipModelClient implements ModelClient {

    private static final MediaType JSON = MediaType.get("application/json");
    /** A batch is thousands of floats as text: the JDK's conversion of them took a tenth of the TaskManager's CPU. */
    private static final JsonFactory JSON_FACTORY = JsonFactory.builder()
            .enable(StreamWriteFeature.USE_FAST_DOUBLE_WRITER)
            .enable(StreamReadFeature.USE_FAST_DOUBLE_PARSER)
            .build();
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final int MAX_ERROR_BODY = 300;

    private final OkHttpClient http;
    private final HttpUrl inferUrl;
    private final String inputName;
    private final String outputName;
    private final ModelMetadata metadata;
    private final boolean gzip;
    /** The request's {@code parameters.priority} (Triton's levels: 1 is the highest); 0: none sent. */
    private volatile int requestPriority;
    /** The metadata of each version the server answered with (usually one). */
    private final Map<String, ModelMetadata> byVersion = new ConcurrentHashMap<>();

    private OipModelClient(OkHttpClient http, HttpUrl inferUrl, String inputName, String outputName,
                           ModelMetadata metadata, boolean gzip) {
        this.http = http;
        this.inferUrl = inferUrl;
        this.inputName = inputName;
        this.outputName = outputName;
        this.metadata = metadata;
        this.gzip = gzip;
        byVersion.put(metadata.version(), metadata);
    }

    /** Where a model URI points: {@code http(s)://host:port/v2/models/<name>[/versions/<version>]}. */
    record Endpoint(HttpUrl base, String model, String version) {
        static Endpoint parse(String uri) {
            HttpUrl url = HttpUrl.parse(uri.trim());
            if (url == null) {
                throw new IllegalArgumentException("model.uri '" + uri + "' is not an http(s) URL");
            }
            List<String> path = url.pathSegments().stream().filter(s -> !s.isEmpty()).toList();
            boolean modelOnly = path.size() == 3;
            boolean versioned = path.size() == 5 && path.get(3).equals("versions");
            if (!(modelOnly || versioned) || !path.get(0).equals("v2") || !path.get(1).equals("models")) {
                throw new IllegalArgumentException("model.uri '" + uri
                        + "' is not an Open Inference Protocol model URL: expected http(s)://host:port/v2/models/<name>"
                        + "[/versions/<version>]");
            }
            return new Endpoint(url.newBuilder().encodedPath("/").build(), path.get(2), versioned ? path.get(4) : null);
        }

        HttpUrl url(String... more) {
            HttpUrl.Builder b = base.newBuilder().addPathSegment("v2").addPathSegment("models").addPathSegment(model);
            if (version != null) {
                b.addPathSegment("versions").addPathSegment(version);
            }
            for (String segment : more) {
                b.addPathSegment(segment);
            }
            return b.build();
        }
    }

    /** Refuses a URI that does not name an Open Inference Protocol model, saying what it expects. */
    public static void parseEndpoint(String uri) {
        Endpoint.parse(uri);
    }

    /** True when an Open Inference Protocol model URL names a version ({@code .../versions/<v>}): it serves only that one. */
    public static boolean pinsVersion(String uri) {
        return Endpoint.parse(uri).version != null;
    }

    /** The model name in an Open Inference Protocol model URL. */
    public static String modelName(String uri) {
        return Endpoint.parse(uri).model;
    }

    /**
     * Connects to the endpoint of {@code uri} and checks it.
     *
     * @param known       the fallback model's metadata: its labels and priors serve servers whose metadata has none, and
     *                    the endpoint's model must name the same labels (may be null)
     * @param expectedSha256 the SHA-256 of the model file the endpoint must serve, checked when its metadata names one
     *                    ({@code parameters.sha256}); null: not checked
     * @param concurrency calls in flight at most, and kept-alive connections
     */
    public static OipModelClient open(String uri, ModelMetadata known, String expectedSha256, int concurrency,
                                      Duration connectTimeout, Duration callTimeout, boolean gzip) throws IOException {
        Endpoint endpoint = Endpoint.parse(uri);
        Dispatcher dispatcher = new Dispatcher();
        dispatcher.setMaxRequests(concurrency);
        dispatcher.setMaxRequestsPerHost(concurrency);
        OkHttpClient http = new OkHttpClient.Builder()
                .dispatcher(dispatcher)
                .connectionPool(new ConnectionPool(concurrency, 5, TimeUnit.MINUTES))
                .protocols(List.of(Protocol.HTTP_2, Protocol.HTTP_1_1))
                .connectTimeout(connectTimeout)
                .callTimeout(callTimeout)
                .readTimeout(callTimeout)
                .retryOnConnectionFailure(false) // retries are the resilience layer's decision
                .build();
        try {
            requireOk(http, endpoint.base.newBuilder().addPathSegments("v2/health/ready").build(), "the server is not ready");
            requireOk(http, endpoint.url("ready"), "the model is not ready");
            JsonNode meta = getJson(http, endpoint.url());
            return fromMetadata(http, endpoint, meta, known, expectedSha256, gzip, uri);
        } catch (IOException | RuntimeException e) {
            close(http);
            throw e;
        }
    }

    private static OipModelClient fromMetadata(OkHttpClient http, Endpoint endpoint, JsonNode meta, ModelMetadata known,
                                               String expectedSha256, boolean gzip, String uri) throws IOException {
        JsonNode input = single(meta, "inputs", uri);
        JsonNode output = single(meta, "outputs", uri);
        long inputWidth = width(input, "input", uri);
        long outputWidth = width(output, "output", uri);
        JsonNode parameters = meta.path("parameters");
        List<String> labels = new ArrayList<>();
        parameters.path("labels").forEach(l -> labels.add(l.asText()));
        float[] priors = null;
        if (parameters.has("class_priors")) {
            JsonNode p = parameters.get("class_priors");
            priors = new float[p.size()];
            for (int i = 0; i < priors.length; i++) {
                priors[i] = (float) p.get(i).asDouble();
            }
        }
        if (labels.isEmpty() || priors == null) {
            if (known == null) {
                throw new IOException("The metadata of " + uri + " names no labels and class priors (parameters.labels, "
                        + "parameters.class_priors): set model.fallback-uri to a model whose metadata has them");
            }
            if (labels.isEmpty()) {
                labels.addAll(known.labels());
            }
            if (priors == null) {
                priors = known.classPriors();
            }
        }
        String version = endpoint.version != null ? endpoint.version
                : meta.path("versions").size() > 0 ? meta.path("versions").get(meta.path("versions").size() - 1).asText()
                : parameters.path("version").asText("unknown");
        String name = meta.path("name").asText(endpoint.model);
        String servedSha256 = parameters.path("sha256").asText(null);
        if (expectedSha256 != null && servedSha256 != null && !expectedSha256.equalsIgnoreCase(servedSha256)) {
            throw new IOException("The model " + name + " " + version + " at " + uri + " serves a file of SHA-256 "
                    + servedSha256 + ", expected " + expectedSha256);
        }
        if (outputWidth != labels.size()) {
            throw new IOException("The model " + name + " at " + uri + " returns " + outputWidth + " values per row, but "
                    + "names " + labels.size() + " labels " + labels);
        }
        if (known != null && !known.labels().equals(labels)) {
            throw new IOException("The model " + name + " at " + uri + " has labels " + labels + ", the fallback model "
                    + known.name() + " " + known.version() + " has " + known.labels());
        }
        ModelMetadata metadata;
        try {
            metadata = new ModelMetadata(name, version, labels, (int) inputWidth, priors);
        } catch (IllegalArgumentException e) {
            throw new IOException("The metadata of " + uri + " does not describe a classifier: " + e.getMessage(), e);
        }
        return new OipModelClient(http, endpoint.url("infer"), input.path("name").asText("input"),
                output.path("name").asText("output"), metadata, gzip);
    }

    @Override
    public ModelMetadata metadata() {
        return metadata;
    }

    @Override
    public CompletableFuture<ModelAnswer> score(float[][] rows, long deadlineNanos) {
        CompletableFuture<ModelAnswer> answer = new CompletableFuture<>();
        Call call;
        try {
            Request.Builder request = new Request.Builder().url(inferUrl).post(body(rows));
            if (gzip) {
                request.header("Content-Encoding", "gzip");
            }
            call = http.newCall(request.build());
        } catch (IOException | RuntimeException e) {
            answer.completeExceptionally(new RemoteModelException("cannot write the request: " + e, 0, false, e));
            return answer;
        }
        answer.whenComplete((a, t) -> {
            if (answer.isCancelled()) {
                call.cancel();
            }
        });
        call.enqueue(new Callback() {
            @Override
            public void onFailure(Call c, IOException e) {
                answer.completeExceptionally(isCallTimeout(e) ? callTimedOut(e)
                        : new RemoteModelException(describe(e), 0, isConnectionFailure(e), e));
            }

            @Override
            public void onResponse(Call c, Response response) {
                try (response) {
                    answer.complete(read(response, rows.length));
                } catch (RemoteModelException e) {
                    answer.completeExceptionally(e);
                } catch (IOException | RuntimeException e) {
                    answer.completeExceptionally(new RemoteModelException("unreadable answer: " + e, response.code(),
                            false, e));
                }
            }
        });
        return answer;
    }

    /**
     * Asks the server to serve this client's requests at priority level {@code level} (1 is the highest, as Triton's
     * {@code priority_levels}): a server that queues requests serves them ahead of those of lower levels or none.
     */
    public OipModelClient requestPriority(int level) {
        if (level < 0) {
            throw new IllegalArgumentException("a priority level is >= 0, got " + level);
        }
        this.requestPriority = level;
        return this;
    }

    /**
     * {"inputs": [{"name", "shape": [n, f], "datatype": "FP32", "data": [...]}], "outputs": [{"name"}]
     * [, "parameters": {"priority": level}]}
     */
    private RequestBody body(float[][] rows) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(64 + rows.length * metadata.featureCount() * 12);
        try (var out = gzip ? new GZIPOutputStream(bytes) : bytes;
             JsonGenerator json = JSON_FACTORY.createGenerator(out)) {
            json.writeStartObject();
            json.writeArrayFieldStart("inputs");
            json.writeStartObject();
            json.writeStringField("name", inputName);
            json.writeArrayFieldStart("shape");
            json.writeNumber(rows.length);
            json.writeNumber(metadata.featureCount());
            json.writeEndArray();
            json.writeStringField("datatype", "FP32");
            json.writeArrayFieldStart("data");
            int width = metadata.featureCount();
            for (float[] row : rows) {
                for (int i = 0; i < width; i++) { // a wider row: the model takes its first features
                    json.writeNumber(row[i]);
                }
            }
            json.writeEndArray();
            json.writeEndObject();
            json.writeEndArray();
            json.writeArrayFieldStart("outputs");
            json.writeStartObject();
            json.writeStringField("name", outputName);
            json.writeEndObject();
            json.writeEndArray();
            int priority = requestPriority;
            if (priority > 0) {
                json.writeObjectFieldStart("parameters");
                json.writeNumberField("priority", priority);
                json.writeEndObject();
            }
            json.writeEndObject();
        }
        return RequestBody.create(bytes.toByteArray(), JSON);
    }

    /** The answer's one output tensor, {@code [rows, classes]} FP32, row by row. */
    private ModelAnswer read(Response response, int rows) throws IOException {
        ResponseBody body = response.body();
        if (!response.isSuccessful()) {
            int status = response.code();
            throw new RemoteModelException("HTTP " + status + ": " + excerpt(body), status, status == 429 || status == 503,
                    null);
        }
        int classes = metadata.classCount();
        String version = null;
        float[][] scores = null;
        int filled = 0;
        long[] shape = null;
        try (InputStream in = body.byteStream(); JsonParser json = JSON_FACTORY.createParser(in)) {
            expect(json.nextToken(), JsonToken.START_OBJECT, "the answer");
            while (json.nextToken() == JsonToken.FIELD_NAME) {
                String field = json.currentName();
                json.nextToken();
                if ("model_version".equals(field)) {
                    version = json.getValueAsString();
                } else if ("outputs".equals(field)) {
                    expect(json.currentToken(), JsonToken.START_ARRAY, "outputs");
                    while (json.nextToken() == JsonToken.START_OBJECT) {
                        while (json.nextToken() == JsonToken.FIELD_NAME) {
                            String key = json.currentName();
                            json.nextToken();
                            if ("shape".equals(key)) {
                                List<Long> dims = new ArrayList<>();
                                while (json.nextToken() != JsonToken.END_ARRAY) {
                                    dims.add(json.getLongValue());
                                }
                                shape = dims.stream().mapToLong(Long::longValue).toArray();
                            } else if ("data".equals(key)) {
                                expect(json.currentToken(), JsonToken.START_ARRAY, "outputs[].data");
                                scores = new float[rows][classes];
                                while (json.nextToken() != JsonToken.END_ARRAY) {
                                    if (filled >= rows * classes) {
                                        throw wrongShape("more than " + rows * classes + " values", rows, classes);
                                    }
                                    scores[filled / classes][filled % classes] = json.getFloatValue();
                                    filled++;
                                }
                            } else {
                                json.skipChildren();
                            }
                        }
                    }
                } else {
                    json.skipChildren();
                }
            }
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new RemoteModelException("the answer is not JSON: " + e.getOriginalMessage(), response.code(), false, e);
        }
        if (scores == null) {
            throw new RemoteModelException("the answer has no outputs[].data", response.code(), false, null);
        }
        if (filled != rows * classes || shape == null || shape.length != 2 || shape[0] != rows || shape[1] != classes) {
            throw wrongShape(filled + " values of shape " + java.util.Arrays.toString(shape), rows, classes);
        }
        ModelMetadata model = version == null || version.equals(metadata.version()) ? metadata
                : byVersion.computeIfAbsent(version, v -> new ModelMetadata(metadata.name(), v, metadata.labels(),
                        metadata.featureCount(), metadata.classPriors()));
        return new ModelAnswer(scores, model, ModelAnswer.REMOTE, null);
    }

    private static RemoteModelException wrongShape(String got, int rows, int classes) {
        return new RemoteModelException("the answer has " + got + ", expected [" + rows + ", " + classes + "]", 200, false,
                null);
    }

    private static void expect(JsonToken token, JsonToken expected, String what) throws RemoteModelException {
        if (token != expected) {
            throw new RemoteModelException(what + " is not " + (expected == JsonToken.START_OBJECT ? "an object" : "an array")
                    + " but " + token, 200, false, null);
        }
    }

    /** Connection refused, unreachable, reset: trying again (on a new connection) can help. */
    static boolean isConnectionFailure(IOException e) {
        return e instanceof ConnectException || e instanceof NoRouteToHostException || e instanceof UnknownHostException
                || (e instanceof SocketException && !(e.getMessage() != null && e.getMessage().contains("Socket closed")))
                || "unexpected end of stream".equals(e.getMessage())
                || (e.getMessage() != null && e.getMessage().startsWith("unexpected end of stream"));
    }

    /**
     * OkHttp's own call or read timeout (set to the policy's call timeout, so it races the time limiter above): the
     * same failure as the time limiter's, not a model error, and not retried.
     */
    static boolean isCallTimeout(IOException e) {
        return e instanceof InterruptedIOException
                && !(e.getMessage() != null && e.getMessage().toLowerCase(Locale.ROOT).contains("connect"));
    }

    private static TimeoutException callTimedOut(IOException e) {
        TimeoutException timeout = new TimeoutException("no answer within the call timeout (" + describe(e) + ")");
        timeout.initCause(e);
        return timeout;
    }

    private static String describe(IOException e) {
        return e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
    }

    private static String excerpt(ResponseBody body) {
        try {
            String text = body == null ? "" : body.string().strip();
            return text.length() > MAX_ERROR_BODY ? text.substring(0, MAX_ERROR_BODY) + "..." : text;
        } catch (IOException e) {
            return "(body unreadable: " + e.getMessage() + ")";
        }
    }

    private static void requireOk(OkHttpClient http, HttpUrl url, String what) throws IOException {
        try (Response response = http.newCall(new Request.Builder().url(url).get().build()).execute()) {
            if (!response.isSuccessful()) {
                throw new IOException("Model endpoint " + url + ": " + what + " (HTTP " + response.code() + ": "
                        + excerpt(response.body()) + ")");
            }
        } catch (IOException e) {
            if (e.getMessage() != null && e.getMessage().startsWith("Model endpoint")) {
                throw e;
            }
            throw new IOException("Model endpoint " + url + ": " + what + " (" + describe(e) + ")", e);
        }
    }

    private static JsonNode getJson(OkHttpClient http, HttpUrl url) throws IOException {
        try (Response response = http.newCall(new Request.Builder().url(url).get().build()).execute()) {
            if (!response.isSuccessful()) {
                throw new IOException("Model metadata " + url + ": HTTP " + response.code() + ": " + excerpt(response.body()));
            }
            return MAPPER.readTree(response.body().byteStream());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IOException("Model metadata " + url + " is not JSON: " + e.getOriginalMessage(), e);
        }
    }

    private static JsonNode single(JsonNode meta, String field, String uri) throws IOException {
        JsonNode tensors = meta.path(field);
        if (!tensors.isArray() || tensors.size() != 1) {
            throw new IOException("The metadata of " + uri + " has " + (tensors.isArray() ? tensors.size() : "no") + " "
                    + field + "; this job needs exactly one");
        }
        return tensors.get(0);
    }

    /** The second dimension of a {@code [-1, width]} FP32 tensor. */
    private static long width(JsonNode tensor, String what, String uri) throws IOException {
        JsonNode shape = tensor.path("shape");
        if (!"FP32".equals(tensor.path("datatype").asText()) || !shape.isArray() || shape.size() != 2) {
            throw new IOException("The " + what + " of " + uri + " is " + tensor.path("datatype").asText("?") + " " + shape
                    + "; this job needs FP32 [-1, n]");
        }
        return shape.get(1).asLong();
    }

    @Override
    public void close() {
        close(http);
    }

    private static void close(OkHttpClient http) {
        http.dispatcher().executorService().shutdown();
        http.connectionPool().evictAll();
    }
}
