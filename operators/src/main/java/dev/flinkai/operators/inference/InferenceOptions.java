package dev.flinkai.operators.inference;

import dev.flinkai.operators.inference.resilience.ResilientModelClient;

import org.apache.flink.configuration.ConfigOption;

import java.time.Duration;
import java.util.List;

import static org.apache.flink.configuration.ConfigOptions.key;

/** The settings of model inference, shared by every job and function that scores. */
public final class InferenceOptions {

    public static final ConfigOption<String> MODEL_URI = key("model.uri").stringType().noDefaultValue()
            .withDescription("Required. The model: a local path or `s3://bucket/key.pt` run in-process (its metadata is "
                    + "read from the `.json` beside it), or an Open Inference Protocol endpoint "
                    + "`http(s)://host:port/v2/models/<name>[/versions/<v>]`.");
    public static final ConfigOption<String> S3_ENDPOINT = key("s3.endpoint").stringType().noDefaultValue()
            .withDescription("S3 endpoint for `s3://` model URIs. Default: env `S3_ENDPOINT`.");
    public static final ConfigOption<String> S3_ACCESS_KEY = key("s3.access-key").stringType().noDefaultValue()
            .withDescription("Default: env `AWS_ACCESS_KEY_ID`.");
    public static final ConfigOption<String> S3_SECRET_KEY = key("s3.secret-key").stringType().noDefaultValue()
            .withDescription("Default: env `AWS_SECRET_ACCESS_KEY`. Masked in the web UI.");
    public static final ConfigOption<Integer> MAX_BATCH_SIZE = key("inference.max-batch-size").intType()
            .defaultValue(64)
            .withDescription("A micro-batch (grouped on the task thread, one model call) closes when it is this big ...");
    public static final ConfigOption<Duration> MAX_WAIT = key("inference.max-wait").durationType()
            .defaultValue(Duration.ofMillis(2))
            .withDescription("... or this long after its first request (at least 1 ms), or before a checkpoint barrier.");
    public static final ConfigOption<Integer> WORKERS = key("inference.workers").intType().defaultValue(1)
            .withDescription("Threads per subtask that score with the in-process model, each with its own predictor.");
    public static final ConfigOption<Duration> TIMEOUT = key("inference.timeout").durationType()
            .defaultValue(Duration.ofSeconds(2))
            .withDescription("After this a batch's requests get fallback predictions (flagged).");
    public static final ConfigOption<Integer> CAPACITY = key("inference.capacity").intType().defaultValue(1000)
            .withDescription("Requests in flight per subtask (the async operator holds capacity / max-batch-size "
                    + "batches).");

    public static final ConfigOption<Boolean> PRIORITY_LANE = key("inference.priority.enabled").booleanType()
            .defaultValue(true)
            .withDescription("Events of priority above 0 get micro-batches, a model client and in-flight capacity of "
                    + "their own, and never queue behind normal ones.");
    public static final ConfigOption<Duration> PRIORITY_MAX_WAIT = key("inference.priority.max-wait").durationType()
            .defaultValue(Duration.ofMillis(1))
            .withDescription("How long a priority micro-batch waits for more requests (0: none).");
    public static final ConfigOption<Integer> PRIORITY_CAPACITY = key("inference.priority.calls").intType()
            .defaultValue(16)
            .withDescription("Model calls (micro-batches) in flight per subtask reserved for the priority lane.");
    public static final ConfigOption<Boolean> SHED_LOAD = key("inference.shed-load").booleanType().defaultValue(false)
            .withDescription("When all of the normal lane's calls (inference.capacity / inference.max-batch-size) "
                    + "wait for the model, answer new batches at once with the class priors (\"shed: ...\") instead "
                    + "of holding the stream back: under overload normal traffic degrades and priority traffic keeps "
                    + "flowing.");

    public static final ConfigOption<String> MODEL_NAME = key("model.name").stringType().noDefaultValue()
            .withDescription("The model's name, which every model update must name. Default: the name in the model's "
                    + "metadata, read when the job is submitted.");
    public static final ConfigOption<String> FALLBACK_URI = key("model.fallback-uri").stringType().noDefaultValue()
            .withDescription("For a remote `model.uri`: the model (path or `s3://`) run in-process when the endpoint does "
                    + "not answer. Without it such batches get the class priors.");
    public static final ConfigOption<Duration> REMOTE_TIMEOUT = key("model.remote.timeout").durationType()
            .defaultValue(Duration.ofMillis(500)).withDescription("Per call to the endpoint; a slower call fails.");
    public static final ConfigOption<Integer> REMOTE_MAX_ATTEMPTS = key("model.remote.max-attempts").intType()
            .defaultValue(3)
            .withDescription("Calls per batch at most: retries only after a refused or reset connection, 429 or 503, "
                    + "with exponential backoff and jitter, and never past the batch's `inference.timeout`.");
    public static final ConfigOption<Duration> REMOTE_RETRY_BACKOFF = key("model.remote.retry-backoff").durationType()
            .defaultValue(Duration.ofMillis(20)).withDescription("The first retry's wait; each next one doubles (±50 %).");
    public static final ConfigOption<Integer> REMOTE_MAX_CONCURRENT_CALLS = key("model.remote.max-concurrent-calls")
            .intType().defaultValue(0)
            .withDescription("Bulkhead: calls in flight per subtask and lane (also the pooled connections); more fail "
                    + "at once. 0: as many as the async operator holds, which then alone bounds them.");
    public static final ConfigOption<Integer> REMOTE_RATE_LIMIT = key("model.remote.rate-limit").intType()
            .defaultValue(1000).withDescription("Calls per second per subtask and lane at most; more fail. 0: no limit.");
    public static final ConfigOption<Integer> REMOTE_BREAKER_FAILURE_RATE = key("model.remote.breaker.failure-rate")
            .intType().defaultValue(50)
            .withDescription("Circuit breaker: opens when this percentage of the last calls failed ...");
    public static final ConfigOption<Integer> REMOTE_BREAKER_SLOW_CALL_RATE = key("model.remote.breaker.slow-call-rate")
            .intType().defaultValue(80).withDescription("... or this percentage took longer than ...");
    public static final ConfigOption<Duration> REMOTE_BREAKER_SLOW_CALL = key("model.remote.breaker.slow-call")
            .durationType().defaultValue(Duration.ofMillis(250)).withDescription("... this.");
    public static final ConfigOption<Integer> REMOTE_BREAKER_WINDOW = key("model.remote.breaker.window").intType()
            .defaultValue(20).withDescription("The last calls the breaker looks at (it needs half of them to decide).");
    public static final ConfigOption<Duration> REMOTE_BREAKER_OPEN_FOR = key("model.remote.breaker.open-for")
            .durationType().defaultValue(Duration.ofSeconds(5))
            .withDescription("How long an open breaker fails calls at once before it lets probes through.");
    public static final ConfigOption<Integer> REMOTE_BREAKER_HALF_OPEN_CALLS = key("model.remote.breaker.half-open-calls")
            .intType().defaultValue(3).withDescription("Probe calls that decide whether the breaker closes again.");
    public static final ConfigOption<Boolean> REMOTE_GZIP = key("model.remote.gzip").booleanType().defaultValue(false)
            .withDescription("Gzip request bodies (answers are gzipped whenever the server offers).");
    public static final ConfigOption<Integer> CACHE_SIZE = key("model.cache.size").intType().defaultValue(0)
            .withDescription("Rows whose answers each subtask, lane and model version keeps (~320 B each), keyed by the "
                    + "exact features the model reads: a row seen again is answered without the model. 0: none, as on "
                    + "the generator's traffic rows hardly ever repeat (deploy/bench/RESULTS.md). A remote `model.uri` "
                    + "must then name its version (`.../versions/<v>`).");

    public static final List<ConfigOption<?>> ALL = List.of(MODEL_URI, MODEL_NAME, S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY,
            MAX_BATCH_SIZE, MAX_WAIT, WORKERS, TIMEOUT, CAPACITY, PRIORITY_LANE, PRIORITY_MAX_WAIT, PRIORITY_CAPACITY,
            SHED_LOAD, FALLBACK_URI, REMOTE_TIMEOUT, REMOTE_MAX_ATTEMPTS, REMOTE_RETRY_BACKOFF, REMOTE_MAX_CONCURRENT_CALLS,
            REMOTE_RATE_LIMIT, REMOTE_BREAKER_FAILURE_RATE, REMOTE_BREAKER_SLOW_CALL_RATE, REMOTE_BREAKER_SLOW_CALL,
            REMOTE_BREAKER_WINDOW, REMOTE_BREAKER_OPEN_FOR, REMOTE_BREAKER_HALF_OPEN_CALLS, REMOTE_GZIP, CACHE_SIZE);

    private InferenceOptions() {}

    /** The remote resilience policy of the defaults above. */
    public static ResilientModelClient.Policy defaultRemotePolicy() {
        return new ResilientModelClient.Policy(REMOTE_TIMEOUT.defaultValue(), REMOTE_MAX_ATTEMPTS.defaultValue(),
                REMOTE_RETRY_BACKOFF.defaultValue(), REMOTE_MAX_CONCURRENT_CALLS.defaultValue(),
                REMOTE_RATE_LIMIT.defaultValue(), REMOTE_BREAKER_FAILURE_RATE.defaultValue(),
                REMOTE_BREAKER_SLOW_CALL_RATE.defaultValue(), REMOTE_BREAKER_SLOW_CALL.defaultValue(),
                REMOTE_BREAKER_WINDOW.defaultValue(), REMOTE_BREAKER_OPEN_FOR.defaultValue(),
                REMOTE_BREAKER_HALF_OPEN_CALLS.defaultValue());
    }
}
