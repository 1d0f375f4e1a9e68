package dev.flinkai.jobs;

import org.apache.flink.configuration.MemorySize;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.util.ParameterTool;

import java.io.Serializable;
import java.time.Duration;

/** Settings of {@link ContextInferenceJob}, read from {@code --key value} arguments with defaults. */
public final class ContextInferenceSettings implements Serializable {

    public final String bootstrapServers;
    public final String eventsTopic;
    public final String predictionsTopic;
    public final String deadLettersTopic;
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
    public final String s3Endpoint;
    public final String s3AccessKey;
    public final String s3SecretKey;
    public final int maxBatchSize;
    public final Duration maxBatchWait;
    public final int inferenceWorkers;
    public final Duration inferenceTimeout;
    public final int inferenceCapacity;

    public final ParameterTool params;

    private ContextInferenceSettings(Settings s) {
        bootstrapServers = s.string("kafka.bootstrap-servers", "127.0.0.1:9092");
        eventsTopic = s.string("topic.events", "user-events");
        predictionsTopic = s.string("topic.predictions", "predictions");
        deadLettersTopic = s.string("topic.dead-letters", "dead-letters");
        groupId = s.string("kafka.group-id", "context-inference");
        delivery = "at-least-once".equals(s.choice("delivery", "exactly-once", "exactly-once", "at-least-once"))
                ? DeliveryGuarantee.AT_LEAST_ONCE : DeliveryGuarantee.EXACTLY_ONCE;
        // Must stay below the broker's transaction.max.timeout.ms (15 min by default) or the producer is refused.
        transactionTimeout = s.duration("kafka.transaction-timeout", Duration.ofMinutes(10));
        checkpointInterval = s.duration("checkpoint.interval", Duration.ofSeconds(10));
        // Exactly-once output only becomes visible at the checkpoint, so lingering there is free. In the low-latency
        // mode 2 ms cost ~2 ms at the median at 20k events/s but took 0.1-0.2 cores off the job and the broker; at 75k
        // events/s (machine near saturation) p50 fell from 80 to 9 ms and p99 from 1.3 s to 0.4 s against linger 0.
        producerLinger = s.durationOrZero("kafka.linger", Duration.ofMillis(delivery == DeliveryGuarantee.AT_LEAST_ONCE ? 2 : 20));
        checkpointDir = s.string("checkpoint.dir", null);
        stateTtl = s.duration("state.ttl", Duration.ofDays(7));
        // Per subtask, ~395 B of heap each (79 MB at 200,000). At 1M users (Zipf 0.8, 4M-event runs) 200,000 gave 61 %
        // hits and 143-153k events per TM CPU-s, 100,000 49 % and 126-128k. Written back before every checkpoint barrier,
        // on the task thread (368 ms with 200,000 at full load): a stall the low-latency mode does not take by default.
        cachedUsers = s.intAtLeast("state.cached-users", delivery == DeliveryGuarantee.AT_LEAST_ONCE ? 0 : 200_000, 0);
        bufferTimeout = s.duration("buffer-timeout", Duration.ofMillis(delivery == DeliveryGuarantee.AT_LEAST_ONCE ? 1 : 50));
        // Each checkpoint flushes the open memtables on the task thread: with RocksDB's 64 MB that stall was 81 ms at
        // 20k events/s, with 4 MB 33 ms. Small memtables cost throughput though (more flushes and compactions: 76k
        // instead of 92k events per TM CPU-second at 1M users), so only the low-latency mode uses them.
        rocksDbWriteBufferSize = s.memorySize("rocksdb.write-buffer-size",
                MemorySize.ofMebiBytes(delivery == DeliveryGuarantee.AT_LEAST_ONCE ? 4 : 64));

        modelUri = s.required("model.uri");
        s3Endpoint = s.string("s3.endpoint", System.getenv("S3_ENDPOINT"));
        s3AccessKey = s.string("s3.access-key", System.getenv("AWS_ACCESS_KEY_ID"));
        s3SecretKey = s.string("s3.secret-key", System.getenv("AWS_SECRET_ACCESS_KEY"));
        maxBatchSize = s.intAtLeast("inference.max-batch-size", 64, 1);
        maxBatchWait = s.duration("inference.max-wait", Duration.ofMillis(2));
        inferenceWorkers = s.intAtLeast("inference.workers", 1, 1);
        inferenceTimeout = s.duration("inference.timeout", Duration.ofSeconds(2));
        inferenceCapacity = s.intAtLeast("inference.capacity", 1000, 1);
        if (transactionTimeout.compareTo(checkpointInterval) <= 0) {
            throw new IllegalArgumentException("Invalid setting --kafka.transaction-timeout " + transactionTimeout
                    + ": must exceed --checkpoint.interval " + checkpointInterval + ", or transactions expire before they commit");
        }
        if (maxBatchWait.toMillis() < 1) {
            throw new IllegalArgumentException("Invalid setting --inference.max-wait " + maxBatchWait
                    + ": must be at least 1 ms (timers have millisecond resolution)");
        }
        if (modelUri.startsWith("s3://") && s3Endpoint == null) {
            throw new IllegalArgumentException("Missing setting --s3.endpoint (or env S3_ENDPOINT), needed for --model.uri " + modelUri);
        }
        s.rejectUnknownKeys();
        params = s.params();
    }

    public static ContextInferenceSettings fromArgs(String... args) {
        return new ContextInferenceSettings(new Settings(ParameterTool.fromArgs(args)));
    }

    public boolean exactlyOnce() {
        return delivery == DeliveryGuarantee.EXACTLY_ONCE;
    }
}
