package dev.flinkai.jobs;

import org.apache.flink.connector.base.DeliveryGuarantee;
import org.junit.jupiter.api.Test;

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
        assertThat(ContextInferenceSettings.fromArgs("--model.uri", "m.pt", "--kafka.linger", "0ms").producerLinger)
                .as("linger 0: send at once").isZero();
    }

    @Test
    void badSettingsFailAtStartNamingTheKey() {
        assertThatThrownBy(() -> ContextInferenceSettings.fromArgs())
                .hasMessageContaining("--model.uri");
        assertThatThrownBy(() -> ContextInferenceSettings.fromArgs("--model.uri", "m.pt", "--delivery", "twice"))
                .hasMessageContaining("--delivery").hasMessageContaining("exactly-once, at-least-once");
        assertThatThrownBy(() -> ContextInferenceSettings.fromArgs("--model.uri", "m.pt", "--checkpoint.interval", "soon"))
                .hasMessageContaining("--checkpoint.interval");
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
    }
}
