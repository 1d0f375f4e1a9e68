package dev.flinkai.operators.inference;

import org.apache.flink.configuration.ConfigOption;

import java.time.Duration;
import java.util.List;

import static org.apache.flink.configuration.ConfigOptions.key;

/** The settings of model inference, shared by every job and function that scores. */
public final class InferenceOptions {

    public static final ConfigOption<String> MODEL_URI = key("model.uri").stringType().noDefaultValue()
            .withDescription("Required. The model: a local path or `s3://bucket/key.pt`; its metadata is read from the "
                    + "`.json` beside it.");
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

    public static final List<ConfigOption<?>> ALL = List.of(MODEL_URI, S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY,
            MAX_BATCH_SIZE, MAX_WAIT, WORKERS, TIMEOUT, CAPACITY);

    private InferenceOptions() {}
}
