package dev.flinkai.jobs;

import org.apache.flink.state.rocksdb.RocksDBOptions;
import org.apache.flink.state.rocksdb.RocksDBOptionsFactory;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.RocksDB;

import java.util.ArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/** The job's environment names the options factory, and the factory gives the memtables a whole-key bloom filter. */
class PointLookupRocksDbOptionsTest {

    @Test
    void theJobsRocksDbColumnsGetAMemtableBloomFilter() throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        ContextInferenceJob.configure(env, ContextInferenceSettings.fromArgs("--model.uri", "m.pt"));
        String factoryClass = env.getConfiguration().get(RocksDBOptions.OPTIONS_FACTORY);
        RocksDBOptionsFactory factory = (RocksDBOptionsFactory) Class.forName(factoryClass).getDeclaredConstructor().newInstance();

        RocksDB.loadLibrary();
        try (ColumnFamilyOptions options = factory.createColumnOptions(new ColumnFamilyOptions(), new ArrayList<>())) {
            assertThat(options.memtableWholeKeyFiltering()).isTrue();
            assertThat(options.memtablePrefixBloomSizeRatio()).isEqualTo(PointLookupRocksDbOptions.MEMTABLE_BLOOM_RATIO);
        }
    }
}
