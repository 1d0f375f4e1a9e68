package dev.flinkai.jobs.kafka;

import dev.flinkai.jobs.ContextInferenceSettings;
import dev.flinkai.jobs.EventGeneratorJob;

import org.apache.flink.configuration.Configuration;
import org.apache.kafka.common.config.SaslConfigs;
import org.apache.kafka.common.config.types.Password;
import org.apache.kafka.common.security.JaasContext;
import org.junit.jupiter.api.Test;

import javax.security.auth.login.AppConfigurationEntry;

import java.util.Map;
import java.util.Properties;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The Kafka client properties the jobs derive from their settings, and the settings they refuse. */
class KafkaAccessTest {

    private static final String[] MODEL = {"--model.uri", "/models/next_event_mlp.pt"};

    @Test
    void plaintextNeedsNoClientProperties() {
        KafkaAccess kafka = settings(Map.of(), "--kafka.bootstrap-servers", "kafka:9092").kafka;

        assertThat(kafka.bootstrapServers()).isEqualTo("kafka:9092");
        assertThat(kafka.clientProperties()).isEmpty();
    }

    @Test
    void scramOverTlsTakesThePasswordFromTheEnvironment() {
        KafkaAccess kafka = settings(Map.of(KafkaAccess.PASSWORD_ENV, "pw-from-secret"),
                "--kafka.security.protocol", "SASL_SSL", "--kafka.sasl.username", "context-inference",
                "--kafka.ssl.truststore", "/etc/kafka-ca/ca.crt").kafka;

        Properties properties = kafka.clientProperties();
        assertThat(properties).containsEntry("security.protocol", "SASL_SSL")
                .containsEntry("sasl.mechanism", "SCRAM-SHA-512")
                .containsEntry("ssl.truststore.type", "PEM")
                .containsEntry("ssl.truststore.location", "/etc/kafka-ca/ca.crt");
        assertThat(loginOptions(properties)).containsEntry("username", "context-inference")
                .containsEntry("password", "pw-from-secret");
        assertThat(kafka.toString()).doesNotContain("pw-from-secret");
    }

    /** Kafka's own JAAS parser reads back exactly the credentials given, whatever characters they hold. */
    @Test
    void credentialsWithQuotesAndBackslashesSurviveTheJaasLine() {
        String password = "a\"b\\c d;e=f";
        KafkaAccess kafka = settings(Map.of(KafkaAccess.USERNAME_ENV, "u\"1"), "--kafka.security.protocol",
                "SASL_PLAINTEXT", "--kafka.sasl.mechanism", "PLAIN", "--kafka.sasl.password", password).kafka;

        Map<String, Object> options = loginOptions(kafka.clientProperties());
        assertThat(options).containsEntry("username", "u\"1").containsEntry("password", password);
        assertThat(kafka.clientProperties().getProperty("sasl.jaas.config")).startsWith(
                "org.apache.kafka.common.security.plain.PlainLoginModule required");
    }

    @Test
    void aSaslProtocolWithoutPasswordFailsNamingTheSettingAndTheVariable() {
        assertThatThrownBy(() -> settings(Map.of(), "--kafka.security.protocol", "SASL_SSL",
                "--kafka.sasl.username", "context-inference"))
                .hasMessageContaining("--kafka.sasl.password").hasMessageContaining(KafkaAccess.PASSWORD_ENV);
        assertThatThrownBy(() -> settings(Map.of(KafkaAccess.PASSWORD_ENV, "pw"), "--kafka.security.protocol",
                "SASL_SSL")).hasMessageContaining("--kafka.sasl.username");
    }

    @Test
    void settingsTheProtocolDoesNotUseAreRefused() {
        assertThatThrownBy(() -> settings(Map.of(), "--kafka.ssl.truststore", "/ca.crt"))
                .hasMessageContaining("--kafka.ssl.truststore").hasMessageContaining("PLAINTEXT");
        assertThatThrownBy(() -> settings(Map.of(), "--kafka.sasl.username", "u"))
                .hasMessageContaining("--kafka.sasl.username").hasMessageContaining("PLAINTEXT");
        assertThatThrownBy(() -> settings(Map.of(), "--kafka.security.protocol", "SASL"))
                .hasMessageContaining("--kafka.security.protocol").hasMessageContaining("SASL_SSL");
        assertThatThrownBy(() -> settings(Map.of(KafkaAccess.PASSWORD_ENV, "pw"), "--kafka.security.protocol",
                "SASL_SSL", "--kafka.sasl.username", "u", "--kafka.sasl.mechanism", "GSSAPI"))
                .hasMessageContaining("--kafka.sasl.mechanism").hasMessageContaining("SCRAM-SHA-512");
    }

    /** A password in an argument works but is never shown among the settings in the web UI. */
    @Test
    void aPasswordArgumentIsMaskedInTheShownSettings() {
        ContextInferenceSettings settings = settings(Map.of(), "--kafka.security.protocol", "SASL_PLAINTEXT",
                "--kafka.sasl.username", "u", "--kafka.sasl.password", "visible-pw");

        assertThat(settings.shown).containsEntry("kafka.sasl.password", "******");
        assertThat(settings.shown.values()).doesNotContain("visible-pw");
    }

    @Test
    void theGeneratorReadsTheSameSettings() {
        String[] args = {"--kafka.security.protocol", "SASL_SSL", "--kafka.sasl.username", "event-generator"};
        assertThat(EventGeneratorJob.settings(args, new Configuration(), Map.of(KafkaAccess.PASSWORD_ENV, "pw"))
                .get(KafkaAccess.SASL_USERNAME)).isEqualTo("event-generator");
        assertThatThrownBy(() -> EventGeneratorJob.settings(args, new Configuration(), Map.of()))
                .hasMessageContaining("--kafka.sasl.password");
    }

    private static ContextInferenceSettings settings(Map<String, String> environment, String... args) {
        String[] all = new String[args.length + MODEL.length];
        System.arraycopy(args, 0, all, 0, args.length);
        System.arraycopy(MODEL, 0, all, args.length, MODEL.length);
        return ContextInferenceSettings.from(all, new Configuration(), environment);
    }

    private static Map<String, Object> loginOptions(Properties properties) {
        JaasContext context = JaasContext.loadClientContext(Map.of(SaslConfigs.SASL_JAAS_CONFIG,
                new Password(properties.getProperty(SaslConfigs.SASL_JAAS_CONFIG))));
        AppConfigurationEntry entry = context.configurationEntries().get(0);
        return Map.copyOf(entry.getOptions());
    }
}
