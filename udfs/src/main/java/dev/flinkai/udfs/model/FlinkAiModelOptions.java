package dev.flinkai.udfs.model;

import dev.flinkai.operators.inference.InferenceOptions;
import dev.flinkai.operators.inference.ModelSettings;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ReadableConfig;

import java.time.Duration;
import java.util.Set;

import static org.apache.flink.configuration.ConfigOptions.key;

/**
 * The {@code WITH} options of {@code CREATE MODEL ... WITH ('provider' = 'flinkai', ...)}. The defaults are the
 * DataStream job's ({@link InferenceOptions}), so a SQL statement and the job score alike unless told otherwise; the
 * remote endpoint's resilience policy (call timeout, retries, breaker, rate limit) is the job's default policy.
 */
public final class FlinkAiModelOptions {

    public static final ConfigOption<String> URI = key("uri").stringType().noDefaultValue()
            .withDescription("The model: s3://bucket/key.pt, file:/path.pt (TorchScript, run in-process by DJL, with its "
                    + ".json metadata beside it) or http(s)://host:port/v2/models/<name>[/versions/<v>] (an Open "
                    + "Inference Protocol endpoint).");
    public static final ConfigOption<String> SHA256 = key("sha256").stringType().noDefaultValue()
            .withDescription("The model file's SHA-256 (hex); a file of another checksum is refused. Default: not checked.");
    public static final ConfigOption<String> FALLBACK_URI = key("fallback-uri").stringType().noDefaultValue()
            .withDescription("For a remote model: the model run in-process when the endpoint does not answer.");
    public static final ConfigOption<Integer> MAX_BATCH_SIZE = key("max-batch-size").intType()
            .defaultValue(InferenceOptions.MAX_BATCH_SIZE.defaultValue())
            .withDescription("Rows per model call at most. Keep the ML_PREDICT max-concurrent-operations at or above it "
                    + "(better twice it), or batches never fill.");
    public static final ConfigOption<Duration> MAX_WAIT = key("max-wait").durationType()
            .defaultValue(InferenceOptions.MAX_WAIT.defaultValue())
            .withDescription("How long a batch waits for more rows after its first one.");
    public static final ConfigOption<Duration> TIMEOUT = key("timeout").durationType()
            .defaultValue(InferenceOptions.TIMEOUT.defaultValue())
            .withDescription("How long a model call may take; then its rows get the class priors, flagged as fallbacks. "
                    + "Keep it below the ML_PREDICT async timeout (default 3 min), which fails the job.");
    public static final ConfigOption<Boolean> BATCHING = key("batching").booleanType().defaultValue(true)
            .withDescription("false: one model call per row, as Flink's own providers do (for comparison).");
    public static final ConfigOption<Integer> WORKERS = key("workers").intType()
            .defaultValue(InferenceOptions.WORKERS.defaultValue())
            .withDescription("In-process model: scoring threads per subtask.");
    public static final ConfigOption<Integer> CACHE_SIZE = key("cache-size").intType()
            .defaultValue(InferenceOptions.CACHE_SIZE.defaultValue())
            .withDescription("Rows whose answers each subtask caches (0: none). A remote URI must then pin its version.");
    public static final ConfigOption<String> S3_ENDPOINT = key("s3.endpoint").stringType().noDefaultValue()
            .withDescription("Default: env S3_ENDPOINT.");
    public static final ConfigOption<String> S3_ACCESS_KEY = key("s3.access-key").stringType().noDefaultValue()
            .withDescription("Default: env AWS_ACCESS_KEY_ID.");
    public static final ConfigOption<String> S3_SECRET_KEY = key("s3.secret-key").stringType().noDefaultValue()
            .withDescription("Default: env AWS_SECRET_ACCESS_KEY.");

    static final Set<ConfigOption<?>> REQUIRED = Set.of(URI);
    static final Set<ConfigOption<?>> OPTIONAL = Set.of(SHA256, FALLBACK_URI, MAX_BATCH_SIZE, MAX_WAIT, TIMEOUT,
            BATCHING, WORKERS, CACHE_SIZE, S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY);

    private FlinkAiModelOptions() {}

    /** The model client's settings these options name (validated by {@link ModelSettings}' setters). */
    static ModelSettings settings(ReadableConfig options) {
        return ModelSettings.forModel(options.get(URI))
                .sha256(options.get(SHA256))
                .fallbackUri(options.get(FALLBACK_URI))
                .s3(options.get(S3_ENDPOINT), options.get(S3_ACCESS_KEY), options.get(S3_SECRET_KEY))
                .workers(options.get(WORKERS))
                .cacheSize(options.get(CACHE_SIZE));
    }
}
