package dev.flinkai.jobs;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ContextInferenceSettingsTest {

    @Test
    void defaultsAreExactlyOnceWithTransactionsBelowTheBrokerMaximum() {
        ContextInferenceSettings s = ContextInferenceSettings.fromArgs("--model.uri", "/models/m.pt");
        assertThat(s.delivery).isEqualTo(DeliveryGuarantee.EXACTLY_ONCE);
        assertThat(s.transactionTimeout).isLessThan(Duration.ofMinutes(15)).isGreaterThan(s.checkpointInterval);
        assertThat(s.eventsTopic).isEqualTo("user-events");
        assertThat(s.checkpointDir).isNull();
        assertThat(s.rocksDbWriteBufferSize.getMebiBytes()).isEqualTo(64);
        assertThat(s.producerLinger).isEqualTo(Duration.ofMillis(20));
        assertThat(s.cachedUsers).isEqualTo(200_000);
        ContextInferenceSettings lowLatency =
                ContextInferenceSettings.fromArgs("--model.uri", "/models/m.pt", "--delivery", "at-least-once");
        assertThat(lowLatency.rocksDbWriteBufferSize.getMebiBytes()).isEqualTo(4);
        assertThat(lowLatency.bufferTimeout).isEqualTo(Duration.ofMillis(1));
        assertThat(lowLatency.producerLinger).isEqualTo(Duration.ofMillis(2));
        assertThat(lowLatency.cachedUsers).as("no write-back stall at checkpoints").isZero();
        assertThat(lowLatency.shown).as("the web UI shows the mode's values")
                .containsEntry("kafka.linger", "2 ms").containsEntry("state.cached-users", "0");
        assertThat(ContextInferenceSettings.fromArgs("--model.uri", "m.pt", "--kafka.linger", "0ms").producerLinger)
                .as("linger 0: send at once").isZero();
    }

    @Test
    void argumentsWinOverTheClusterConfigurationWhichWinsOverDefaults() {
        Configuration cluster = new Configuration();
        cluster.setString("inference.workers", "3");
        cluster.setString("checkpoint.interval", "30s");
        cluster.setString("taskmanager.numberOfTaskSlots", "4"); // Flink's own keys are not the job's business
        ContextInferenceSettings s = ContextInferenceSettings.from(
                new String[] {"--model.uri", "m.pt", "--checkpoint.interval", "5s"}, cluster);
        assertThat(s.inferenceWorkers).as("from the cluster").isEqualTo(3);
        assertThat(s.checkpointInterval).as("the argument wins").isEqualTo(Duration.ofSeconds(5));
        assertThat(s.maxBatchSize).as("the default").isEqualTo(64);

        cluster.setString("inference.capacity", "lots");
        assertThatThrownBy(() -> ContextInferenceSettings.from(new String[] {"--model.uri", "m.pt"}, cluster))
                .hasMessageContaining("--inference.capacity 'lots' (from the cluster configuration)")
                .hasMessageContaining("an integer");
    }

    @Test
    void theSecretIsMaskedInWhatTheWebUiShows() {
        ContextInferenceSettings s = ContextInferenceSettings.fromArgs("--model.uri", "s3://models/m.pt",
                "--s3.endpoint", "http://127.0.0.1:9000", "--s3.access-key", "ak", "--s3.secret-key", "hush");
        assertThat(s.s3SecretKey).isEqualTo("hush");
        assertThat(s.shown).containsEntry("s3.secret-key", "******").containsEntry("s3.access-key", "ak")
                .containsEntry("inference.max-batch-size", "64").doesNotContainValue("hush");
    }

    @Test
    void badSettingsFailAtStartNamingTheKey() {
        assertThatThrownBy(() -> ContextInferenceSettings.fromArgs())
                .hasMessageContaining("--model.uri");
        assertThatThrownBy(() -> ContextInferenceSettings.fromArgs("--model.uri", "m.pt", "--delivery", "twice"))
                .hasMessageContaining("--delivery 'twice'").hasMessageContaining("exactly-once, at-least-once");
        assertThatThrownBy(() -> ContextInferenceSettings.fromArgs("--model.uri", "m.pt", "--checkpoint.interval", "soon"))
                .hasMessageContaining("--checkpoint.interval 'soon'").hasMessageContaining("duration");
        assertThatThrownBy(() -> ContextInferenceSettings.fromArgs("--model.uri", "m.pt", "--inference.max-batch-size", "0"))
                .hasMessageContaining("--inference.max-batch-size").hasMessageContaining("at least 1");
        assertThatThrownBy(() -> ContextInferenceSettings.fromArgs("--model.uri", "m.pt", "--inference.max-bach-size", "8"))
                .hasMessageContaining("Unknown setting").hasMessageContaining("--inference.max-bach-size");
        assertThatThrownBy(() -> ContextInferenceSettings.fromArgs("--model.uri", "m.pt",
                "--checkpoint.interval", "20min", "--kafka.transaction-timeout", "10min"))
                .hasMessageContaining("--kafka.transaction-timeout");
        assertThatThrownBy(() -> ContextInferenceSettings.fromArgs("--model.uri", "s3://models/m.pt"))
                .hasMessageContaining("--s3.endpoint");
        assertThatThrownBy(() -> ContextInferenceSettings.fromArgs("--model.uri", "m.pt", "--inference.max-wait", "500000ns"))
                .hasMessageContaining("--inference.max-wait").hasMessageContaining("at least 1 ms");
        assertThatThrownBy(() -> ContextInferenceSettings.fromArgs("--model.uri", "m.pt", "--kafka.linger", "soon"))
                .hasMessageContaining("--kafka.linger").hasMessageContaining("duration");
        assertThatThrownBy(() -> ContextInferenceSettings.fromArgs("--model.uri", "m.pt", "--state.cached-users", "-1"))
                .hasMessageContaining("--state.cached-users").hasMessageContaining("at least 0");
        assertThatThrownBy(() -> ContextInferenceSettings.fromArgs("--model.uri", "m.pt", "--rocksdb.write-buffer-size", "big"))
                .hasMessageContaining("--rocksdb.write-buffer-size").hasMessageContaining("size");
        assertThatThrownBy(() -> ContextInferenceSettings.fromArgs("--model.uri", "m.pt", "--topic.events", " "))
                .hasMessageContaining("--topic.events").hasMessageContaining("blank");
    }

    @Test
    void theResultCacheIsOffByDefaultAndNeedsAPinnedVersionForARemoteModel() {
        assertThat(ContextInferenceSettings.fromArgs("--model.uri", "m.pt").modelSettings().cacheSize()).isZero();
        assertThat(ContextInferenceSettings.fromArgs("--model.uri", "m.pt", "--model.cache.size", "100000")
                .modelSettings().cacheSize()).isEqualTo(100_000);
        assertThatThrownBy(() -> ContextInferenceSettings.fromArgs("--model.uri", "m.pt", "--model.cache.size", "-1"))
                .hasMessageContaining("--model.cache.size '-1'").hasMessageContaining("at least 0");
        String endpoint = "http://127.0.0.1:8000/v2/models/next-event-mlp";
        assertThatThrownBy(() -> ContextInferenceSettings.fromArgs("--model.uri", endpoint, "--model.cache.size", "10"))
                .hasMessageContaining("--model.cache.size").hasMessageContaining("/versions/<v>");
        assertThat(ContextInferenceSettings.fromArgs("--model.uri", endpoint + "/versions/1.0.0",
                "--model.cache.size", "10").modelSettings().cacheSize()).isEqualTo(10);
    }

    @Test
    void theGeneratorChecksItsSettingsToo() {
        assertThat(EventGeneratorJob.settings(new String[] {"--rate", "10", "--users", "5"}, new Configuration())
                .get(EventGeneratorJob.USERS)).isEqualTo(5);
        assertThatThrownBy(() -> EventGeneratorJob.settings(new String[] {"--rate", "0"}, new Configuration()))
                .hasMessageContaining("--rate");
        assertThatThrownBy(() -> EventGeneratorJob.settings(new String[] {"--userz", "5"}, new Configuration()))
                .hasMessageContaining("--userz");
    }

    /** The README's settings table is the options' own: a new option or a changed default shows up there. */
    @Test
    void theReadmeTableListsEveryOptionWithItsDefault() throws Exception {
        Path readme = Path.of("..", "README.md");
        String text = Files.readString(readme);
        String begin = "<!-- settings-table: generated from ContextInferenceOptions -->\n";
        String end = "<!-- /settings-table -->";
        assertThat(text).contains(begin).contains(end);
        String inReadme = text.substring(text.indexOf(begin) + begin.length(), text.indexOf(end));
        String expected = ContextInferenceOptions.markdownTable();
        Path fresh = Path.of("target", "settings-table.md");
        Files.writeString(fresh, expected);
        assertThat(inReadme).as("README settings table; the current one is in jobs/%s", fresh).isEqualTo(expected);
    }
}
