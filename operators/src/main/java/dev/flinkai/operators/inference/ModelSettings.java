package dev.flinkai.operators.inference;

import dev.flinkai.operators.inference.djl.ModelArtifacts;
import dev.flinkai.operators.inference.resilience.ResilientModelClient;

import java.io.Serializable;
import java.util.Locale;
import java.util.Objects;

/**
 * Where a {@link ModelClient} finds its model and how many threads score with it; copied into the functions when the
 * job graph is built. The jobs set it from the {@link InferenceOptions}.
 *
 * <table>
 *   <tr><th>field</th><th>default</th></tr>
 *   <tr><td>modelUri</td><td>none (required): {@code s3://bucket/key.pt}, {@code file:/...} or a path</td></tr>
 *   <tr><td>sha256</td><td>null: the model file's SHA-256 (hex) is not checked</td></tr>
 *   <tr><td>s3Endpoint, s3AccessKey, s3SecretKey, s3Region</td><td>null: env S3_ENDPOINT, AWS_ACCESS_KEY_ID,
 *       AWS_SECRET_ACCESS_KEY, AWS_REGION (region then us-east-1)</td></tr>
 *   <tr><td>downloadDir</td><td>null: a fresh temp directory per subtask, deleted on close</td></tr>
 *   <tr><td>workers</td><td>1 (threads per subtask, each with its own predictor)</td></tr>
 *   <tr><td>queueCapacity</td><td>10 000 (batches waiting for a worker; keep it at or above the async capacity)</td></tr>
 *   <tr><td>fallbackUri</td><td>null: for a remote model, the in-process model that answers when it does not</td></tr>
 *   <tr><td>remotePolicy, remoteGzip</td><td>{@link InferenceOptions}' defaults: timeouts, retries, breaker, limits</td></tr>
 *   <tr><td>cacheSize</td><td>{@link InferenceOptions#CACHE_SIZE}'s default: rows whose answers each client caches (0: none)</td></tr>
 * </table>
 */
public class ModelSettings implements Serializable {
    private static final long serialVersionUID = 1L;

    public static final int DEFAULT_QUEUE_CAPACITY = 10_000;

    private String modelUri;
    private String sha256;
    private String s3Endpoint;
    private String s3AccessKey;
    private String s3SecretKey;
    private String s3Region;
    private String downloadDir;
    private int workers = InferenceOptions.WORKERS.defaultValue();
    private int queueCapacity = DEFAULT_QUEUE_CAPACITY;
    private String fallbackUri;
    private ResilientModelClient.Policy remotePolicy = InferenceOptions.defaultRemotePolicy();
    private boolean remoteGzip;
    private int cacheSize = InferenceOptions.CACHE_SIZE.defaultValue();
    private int requestPriority;

    public static ModelSettings forModel(String modelUri) {
        return new ModelSettings().modelUri(modelUri);
    }

    public ModelSettings modelUri(String uri) {
        this.modelUri = uri;
        return this;
    }

    /** The SHA-256 (hex) the model file must have; null: not checked. */
    public ModelSettings sha256(String hex) {
        this.sha256 = hex;
        return this;
    }

    public String sha256() {
        return sha256;
    }

    /** Explicit S3 access; any null falls back to the environment. */
    public ModelSettings s3(String endpoint, String accessKey, String secretKey) {
        this.s3Endpoint = endpoint;
        this.s3AccessKey = accessKey;
        this.s3SecretKey = secretKey;
        return this;
    }

    public ModelSettings s3Region(String region) {
        this.s3Region = region;
        return this;
    }

    public ModelSettings downloadDir(String dir) {
        this.downloadDir = dir;
        return this;
    }

    public ModelSettings workers(int count) {
        if (count < 1) {
            throw new IllegalArgumentException("workers must be >= 1, got " + count);
        }
        this.workers = count;
        return this;
    }

    public ModelSettings queueCapacity(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("queueCapacity must be >= 1, got " + capacity);
        }
        this.queueCapacity = capacity;
        return this;
    }

    /** The in-process model that answers when a remote endpoint does not; null for none. */
    public ModelSettings fallbackUri(String uri) {
        this.fallbackUri = uri;
        return this;
    }

    public ModelSettings remotePolicy(ResilientModelClient.Policy policy) {
        this.remotePolicy = policy;
        return this;
    }

    public ModelSettings remoteGzip(boolean gzip) {
        this.remoteGzip = gzip;
        return this;
    }

    /** Rows whose answers each client keeps ({@code CachingModelClient}); 0: no cache. */
    public ModelSettings cacheSize(int rows) {
        if (rows < 0) {
            throw new IllegalArgumentException("cacheSize must be >= 0, got " + rows);
        }
        this.cacheSize = rows;
        return this;
    }

    public int cacheSize() {
        return cacheSize;
    }

    /** The priority level a remote endpoint is asked to serve the calls at (1 is the highest); 0: none asked. */
    public ModelSettings requestPriority(int level) {
        if (level < 0) {
            throw new IllegalArgumentException("requestPriority must be >= 0, got " + level);
        }
        this.requestPriority = level;
        return this;
    }

    public int requestPriority() {
        return requestPriority;
    }

    public String modelUri() {
        return modelUri;
    }

    public String fallbackUri() {
        return fallbackUri;
    }

    public ResilientModelClient.Policy remotePolicy() {
        return remotePolicy;
    }

    public boolean remoteGzip() {
        return remoteGzip;
    }

    public ModelSettings copy() {
        return new ModelSettings().modelUri(modelUri).sha256(sha256).s3(s3Endpoint, s3AccessKey, s3SecretKey).s3Region(s3Region)
                .downloadDir(downloadDir).workers(workers).queueCapacity(queueCapacity).fallbackUri(fallbackUri)
                .remotePolicy(remotePolicy).remoteGzip(remoteGzip).cacheSize(cacheSize)
                .requestPriority(requestPriority);
    }

    /**
     * These settings for a client that sees at most {@code calls} calls in flight: the in-process queue holds that
     * many batches, and the remote bulkhead allows that many calls unless its own limit is lower.
     */
    public ModelSettings forCalls(int calls) {
        int concurrent = remotePolicy.maxConcurrentCalls() > 0 ? Math.min(remotePolicy.maxConcurrentCalls(), calls) : calls;
        return copy().queueCapacity(Math.max(1, calls)).remotePolicy(remotePolicy.withMaxConcurrentCalls(concurrent));
    }

    /** These settings for another model, without a fallback of its own (e.g. for the fallback model itself). */
    public ModelSettings withModelUri(String uri) {
        return copy().modelUri(uri).sha256(null).fallbackUri(null);
    }

    /** These settings for the model file at {@code uri} of that SHA-256, keeping the fallback (a model swap). */
    public ModelSettings forModel(String uri, String sha256) {
        return copy().modelUri(uri).sha256(sha256);
    }

    /** True for {@code http://} and {@code https://} URIs: a model endpoint. */
    public boolean remote() {
        String uri = Objects.requireNonNull(modelUri, "modelUri").trim().toLowerCase(Locale.ROOT);
        return uri.startsWith("http://") || uri.startsWith("https://");
    }

    public ModelArtifacts.S3Access s3Access() {
        return new ModelArtifacts.S3Access(s3Endpoint, s3AccessKey, s3SecretKey, s3Region);
    }

    public String downloadDir() {
        return downloadDir;
    }

    public int workers() {
        return workers;
    }

    public int queueCapacity() {
        return queueCapacity;
    }

    /** True when the model or the fallback model is an {@code s3://} or {@code s3a://} URI, which needs S3 access. */
    public boolean onS3() {
        return isS3(modelUri) || (fallbackUri != null && isS3(fallbackUri));
    }

    private static boolean isS3(String uri) {
        String u = uri.trim().toLowerCase(Locale.ROOT);
        return u.startsWith("s3://") || u.startsWith("s3a://");
    }

    void validate() {
        if (modelUri == null || modelUri.isBlank()) {
            throw new IllegalArgumentException("ModelSettings: modelUri is required");
        }
    }

    @Override
    public String toString() {
        return "ModelSettings{modelUri=" + modelUri + (sha256 == null ? "" : ", sha256=" + sha256) + ", fallbackUri=" + fallbackUri + ", s3Endpoint=" + s3Endpoint
                + ", workers=" + workers + ", queueCapacity=" + queueCapacity + ", cacheSize=" + cacheSize
                + (remote() ? ", remotePolicy=" + remotePolicy + ", gzip=" + remoteGzip : "") + "}";
    }
}
