package dev.flinkai.jobs;

import dev.flinkai.jobs.ContextInferenceOptions.Delivery;
import dev.flinkai.jobs.kafka.KafkaAccess;
import dev.flinkai.operators.config.Settings;
import dev.flinkai.operators.inference.BatchingInferenceFunction;
import dev.flinkai.operators.inference.InferenceOptions;
import dev.flinkai.operators.inference.ModelSettings;
import dev.flinkai.operators.inference.remote.OipModelClient;
import dev.flinkai.operators.inference.resilience.ResilientModelClient;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.connector.base.DeliveryGuarantee;

import java.io.Serializable;
import java.time.Duration;
import java.util.Map;
import java.util.Set;

import static dev.flinkai.jobs.ContextInferenceOptions.*;

/**
 * The settings of {@link ContextInferenceJob}, read and checked once at start from the {@link ContextInferenceOptions}
 * ({@code --key value} arguments first, then the cluster configuration, then the defaults; credentials not given fall
 * back to environment variables). Any bad value, unknown key or contradiction fails here, naming the key.
 */
public final class ContextInferenceSettings implements Serializable {
    private static final long serialVersionUID = 1L;

    public final String bootstrapServers;
    /** The brokers and how to authenticate to them. */
    public final KafkaAccess kafka;
    public final String eventsTopic;
    public final String predictionsTopic;
    public final String deadLettersTopic;
    /** Null when the job reads no profiles. */
    public final String profilesTopic;
    /** Null when the job reads no model updates. */
    public final String modelUpdatesTopic;
    public final String modelEventsTopic;
    public final String groupId;
    public final DeliveryGuarantee delivery;
    public final Duration transactionTimeout;
    public final Duration producerLinger;
    public final Duration checkpointInterval;
    /** Null: take the cluster's execution.checkpointing.dir. */
    public final String checkpointDir;
    public final Duration stateTtl;
    public final int cachedUsers;
    public final Duration bufferTimeout;
    public final MemorySize rocksDbWriteBufferSize;

    public final String modelUri;
    /** Null: the name in the model's metadata. */
    public final String modelName;
    public final String s3Endpoint;
    public final String s3AccessKey;
    public final String s3SecretKey;
    public final int maxBatchSize;
    public final Duration maxBatchWait;
    public final int inferenceWorkers;
    public final Duration inferenceTimeout;
    public final int inferenceCapacity;
    public final boolean priorityLane;
    public final Duration priorityMaxWait;
    public final int priorityCapacity;
    public final boolean shedLoad;
    public final String fallbackUri;
    public final ResilientModelClient.Policy remotePolicy;
    public final boolean remoteGzip;
    /** Rows whose answers each model client caches; 0: none. */
    public final int cacheSize;

    /** Every setting with its effective value, the S3 secret masked: shown in the web UI. */
    public final Map<String, String> shown;

    private ContextInferenceSettings(Settings s, Map<String, String> environment) {
        Delivery mode = s.get(DELIVERY);
        bootstrapServers = nonBlank(s, BOOTSTRAP_SERVERS);
        kafka = KafkaAccess.read(s, bootstrapServers, environment);
        eventsTopic = nonBlank(s, TOPIC_EVENTS);
        predictionsTopic = nonBlank(s, TOPIC_PREDICTIONS);
        deadLettersTopic = nonBlank(s, TOPIC_DEAD_LETTERS);
        profilesTopic = blankAsNull(s.get(TOPIC_PROFILES));
        modelUpdatesTopic = blankAsNull(s.get(TOPIC_MODEL_UPDATES));
        modelEventsTopic = nonBlank(s, TOPIC_MODEL_EVENTS);
        groupId = nonBlank(s, GROUP_ID);
        delivery = mode == Delivery.AT_LEAST_ONCE ? DeliveryGuarantee.AT_LEAST_ONCE : DeliveryGuarantee.EXACTLY_ONCE;
        transactionTimeout = s.positive(TRANSACTION_TIMEOUT);
        checkpointInterval = s.positive(CHECKPOINT_INTERVAL);
        producerLinger = s.notNegative(KAFKA_LINGER, s.get(KAFKA_LINGER, modeDefault(KAFKA_LINGER, mode)));
        checkpointDir = s.get(CHECKPOINT_DIR);
        stateTtl = s.positive(STATE_TTL);
        cachedUsers = s.atLeast(CACHED_USERS, s.get(CACHED_USERS, modeDefault(CACHED_USERS, mode)), 0);
        bufferTimeout = s.positive(BUFFER_TIMEOUT, s.get(BUFFER_TIMEOUT, modeDefault(BUFFER_TIMEOUT, mode)));
        rocksDbWriteBufferSize = s.get(ROCKSDB_WRITE_BUFFER_SIZE, modeDefault(ROCKSDB_WRITE_BUFFER_SIZE, mode));
        if (rocksDbWriteBufferSize.getBytes() <= 0) {
            throw Settings.invalid(ROCKSDB_WRITE_BUFFER_SIZE, rocksDbWriteBufferSize, "must be positive");
        }

        modelUri = s.required(InferenceOptions.MODEL_URI);
        modelName = blankAsNull(s.get(InferenceOptions.MODEL_NAME));
        s3Endpoint = s.get(InferenceOptions.S3_ENDPOINT, environment.get("S3_ENDPOINT"));
        s3AccessKey = s.get(InferenceOptions.S3_ACCESS_KEY, environment.get("AWS_ACCESS_KEY_ID"));
        s3SecretKey = s.get(InferenceOptions.S3_SECRET_KEY, environment.get("AWS_SECRET_ACCESS_KEY"));
        maxBatchSize = s.atLeast(InferenceOptions.MAX_BATCH_SIZE, 1);
        maxBatchWait = s.positive(InferenceOptions.MAX_WAIT);
        inferenceWorkers = s.atLeast(InferenceOptions.WORKERS, 1);
        inferenceTimeout = s.positive(InferenceOptions.TIMEOUT);
        inferenceCapacity = s.atLeast(InferenceOptions.CAPACITY, 1);
        priorityLane = s.get(InferenceOptions.PRIORITY_LANE);
        priorityMaxWait = s.notNegative(InferenceOptions.PRIORITY_MAX_WAIT, s.get(InferenceOptions.PRIORITY_MAX_WAIT));
        priorityCapacity = s.atLeast(InferenceOptions.PRIORITY_CAPACITY, 1);
        shedLoad = s.get(InferenceOptions.SHED_LOAD, modeDefault(InferenceOptions.SHED_LOAD, mode));
        fallbackUri = s.get(InferenceOptions.FALLBACK_URI);
        remotePolicy = new ResilientModelClient.Policy(s.positive(InferenceOptions.REMOTE_TIMEOUT),
                s.atLeast(InferenceOptions.REMOTE_MAX_ATTEMPTS, 1), s.positive(InferenceOptions.REMOTE_RETRY_BACKOFF),
                s.atLeast(InferenceOptions.REMOTE_MAX_CONCURRENT_CALLS, 0), s.atLeast(InferenceOptions.REMOTE_RATE_LIMIT, 0),
                percent(s, InferenceOptions.REMOTE_BREAKER_FAILURE_RATE),
                percent(s, InferenceOptions.REMOTE_BREAKER_SLOW_CALL_RATE),
                s.positive(InferenceOptions.REMOTE_BREAKER_SLOW_CALL), s.atLeast(InferenceOptions.REMOTE_BREAKER_WINDOW, 1),
                s.positive(InferenceOptions.REMOTE_BREAKER_OPEN_FOR),
                s.atLeast(InferenceOptions.REMOTE_BREAKER_HALF_OPEN_CALLS, 1));
        remoteGzip = s.get(InferenceOptions.REMOTE_GZIP);
        cacheSize = s.atLeast(InferenceOptions.CACHE_SIZE, 0);
        if (priorityMaxWait.toNanos() > 0 && priorityMaxWait.toMillis() < 1) {
            throw Settings.invalid(InferenceOptions.PRIORITY_MAX_WAIT, priorityMaxWait,
                    "must be 0 or at least 1 ms (timers have millisecond resolution)");
        }
        if (transactionTimeout.compareTo(checkpointInterval) <= 0) {
            throw Settings.invalid(TRANSACTION_TIMEOUT, transactionTimeout, "must exceed --checkpoint.interval "
                    + checkpointInterval + ", or transactions expire before they commit");
        }
        if (maxBatchWait.toMillis() < 1) {
            throw Settings.invalid(InferenceOptions.MAX_WAIT, maxBatchWait,
                    "must be at least 1 ms (timers have millisecond resolution)");
        }
        ModelSettings model = modelSettings();
        if (model.onS3() && s3Endpoint == null) {
            throw new IllegalArgumentException("Missing setting --" + InferenceOptions.S3_ENDPOINT.key()
                    + " (or env S3_ENDPOINT), needed for --model.uri " + modelUri
                    + (fallbackUri == null ? "" : " or --model.fallback-uri " + fallbackUri));
        }
        if (model.remote()) {
            try {
                OipModelClient.parseEndpoint(modelUri);
            } catch (IllegalArgumentException e) {
                throw Settings.invalid(InferenceOptions.MODEL_URI, modelUri, e.getMessage());
            }
            if (cacheSize > 0 && !OipModelClient.pinsVersion(modelUri)) {
                throw Settings.invalid(InferenceOptions.CACHE_SIZE, cacheSize, "needs a --model.uri that names its "
                        + "version (.../versions/<v>): under " + modelUri + " the endpoint could change versions "
                        + "while the cache answers with the previous one's scores");
            }
        } else if (fallbackUri != null) {
            throw Settings.invalid(InferenceOptions.FALLBACK_URI, fallbackUri,
                    "only a remote --model.uri (http(s)://...) falls back to another model");
        }
        Map<String, String> effective = s.effective();
        effective.put(KAFKA_LINGER.key(), Settings.format(producerLinger));
        effective.put(CACHED_USERS.key(), Settings.format(cachedUsers));
        effective.put(BUFFER_TIMEOUT.key(), Settings.format(bufferTimeout));
        effective.put(ROCKSDB_WRITE_BUFFER_SIZE.key(), Settings.format(rocksDbWriteBufferSize));
        effective.put(InferenceOptions.SHED_LOAD.key(), Settings.format(shedLoad));
        shown = effective;
    }

    /** From {@code --key value} arguments alone (the defaults for everything else). */
    public static ContextInferenceSettings fromArgs(String... args) {
        return from(args, new Configuration());
    }

    /** From {@code --key value} arguments, then {@code cluster} (e.g. the execution environment's configuration). */
    public static ContextInferenceSettings from(String[] args, ReadableConfig cluster) {
        return from(args, cluster, System.getenv());
    }

    /** As {@link #from(String[], ReadableConfig)}, with {@code environment} in place of the process's variables. */
    public static ContextInferenceSettings from(String[] args, ReadableConfig cluster,
                                                Map<String, String> environment) {
        return new ContextInferenceSettings(Settings.of(args, ALL, cluster,
                Set.of(InferenceOptions.S3_SECRET_KEY.key(), KafkaAccess.SASL_PASSWORD.key())), environment);
    }

    public boolean exactlyOnce() {
        return delivery == DeliveryGuarantee.EXACTLY_ONCE;
    }

    /** The model client's settings: the model, S3 access, scoring threads, the remote policy (per lane: lanes()). */
    public ModelSettings modelSettings() {
        return ModelSettings.forModel(modelUri)
                .s3(s3Endpoint, s3AccessKey, s3SecretKey)
                .workers(inferenceWorkers)
                .fallbackUri(fallbackUri)
                .remotePolicy(remotePolicy)
                .remoteGzip(remoteGzip)
                .cacheSize(cacheSize)
                .queueCapacity(batchesInFlight());
    }

    /** inference.capacity counts requests; the async operator counts batches. */
    public int batchesInFlight() {
        return batches(inferenceCapacity);
    }

    /** The lanes of the inference operator, in model calls: its capacity is {@code lanes().asyncCapacity()}. */
    public BatchingInferenceFunction.Lanes lanes() {
        return new BatchingInferenceFunction.Lanes(batchesInFlight(), shedLoad, priorityLane ? priorityCapacity : 0);
    }

    private int batches(int requests) {
        return Math.max(1, (requests + maxBatchSize - 1) / maxBatchSize);
    }

    private static float percent(Settings s, ConfigOption<Integer> option) {
        int value = s.get(option);
        if (value < 1 || value > 100) {
            throw Settings.invalid(option, value, "must be a percentage from 1 to 100");
        }
        return value;
    }

    @SuppressWarnings("unchecked")
    private static <T> T modeDefault(ConfigOption<T> option, Delivery mode) {
        for (ModeDefault<?> m : MODE_DEFAULTS) {
            if (m.option() == option) {
                return ((ModeDefault<T>) m).forMode(mode);
            }
        }
        throw new IllegalArgumentException("no mode default for " + option.key());
    }

    private static String blankAsNull(String value) {
        return value == null || value.isBlank() ? null : value.trim();
    }

    private static String nonBlank(Settings s, ConfigOption<String> option) {
        String value = s.get(option);
        if (value == null || value.isBlank()) {
            throw Settings.invalid(option, value, "must not be blank");
        }
        return value;
    }
}
