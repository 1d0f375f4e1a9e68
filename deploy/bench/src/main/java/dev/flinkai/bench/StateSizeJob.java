package dev.flinkai.bench;

import dev.flinkai.jobs.ContextInferenceJob;
import dev.flinkai.jobs.ContextInferenceSettings;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.state.rocksdb.RocksDBNativeMetricOptions;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * {@link ContextInferenceJob} exactly as shipped (same arguments, same pipeline), plus RocksDB's native size metrics
 * switched on in the job's own configuration, so the benchmark can read the bytes of per-user state:
 * {@code state.backend.rocksdb.metrics.live-sst-files-size}, {@code .total-sst-files-size},
 * {@code .estimate-num-keys}, {@code .cur-size-all-mem-tables} (gauges per state, e.g.
 * {@code ...Per-user_context_and_features.user-context.rocksdb.live-sst-files-size}).
 */
public final class StateSizeJob {

    private StateSizeJob() {}

    public static void main(String[] args) throws Exception {
        ContextInferenceSettings settings = ContextInferenceSettings.fromArgs(args);
        StreamExecutionEnvironment env = ContextInferenceJob.createEnvironment(settings);
        Configuration metrics = new Configuration();
        metrics.set(RocksDBNativeMetricOptions.MONITOR_LIVE_SST_FILES_SIZE, true);
        metrics.set(RocksDBNativeMetricOptions.MONITOR_TOTAL_SST_FILES_SIZE, true);
        metrics.set(RocksDBNativeMetricOptions.ESTIMATE_NUM_KEYS, true);
        metrics.set(RocksDBNativeMetricOptions.MONITOR_CUR_SIZE_ALL_MEM_TABLE, true);
        env.configure(metrics);
        ContextInferenceJob.buildPipeline(ContextInferenceJob.kafkaInput(env, settings), null,
                ContextInferenceJob.kafkaOutputs(settings), settings);
        env.execute("bench-state-size");
    }
}
