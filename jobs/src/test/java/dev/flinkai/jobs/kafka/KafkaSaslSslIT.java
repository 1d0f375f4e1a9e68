package dev.flinkai.jobs.kafka;

import dev.flinkai.jobs.ContextInferenceSettings;
import dev.flinkai.jobs.testing.SaslSslTestBroker;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.errors.SslAuthenticationException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;

import static dev.flinkai.jobs.kafka.KafkaRoundTrip.clientOf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The jobs' Kafka sink and source through a broker whose only client listener is SASL_SSL (TLS with a certificate
 * signed by a CA made for the test, SCRAM-SHA-512 users), as the Strimzi listener of deploy/k8s. The job trusts the CA
 * by {@code --kafka.ssl.truststore} and takes its password from the environment, as its FlinkDeployment does.
 */
class KafkaSaslSslIT {

    private static final String USER = "context-inference";
    private static final String PASSWORD = "scram-password-over-tls";
    private static final String TOPIC = "user-events";

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(1)
            .build());

    @TempDir
    static Path certificates;

    private static SaslSslTestBroker broker;

    @BeforeAll
    static void startBroker() throws Exception {
        broker = new SaslSslTestBroker(certificates, USER);
        broker.createTopics(2, TOPIC);
        broker.addScramUser(USER, PASSWORD, clientOf(settings(true, PASSWORD).kafka));
    }

    @AfterAll
    static void stopBroker() throws Exception {
        if (broker != null) {
            broker.close();
        }
    }

    @Test
    void theJobsSinkAndSourceWorkOverTlsWithTheJobsKafkaUser() throws Exception {
        KafkaAccess kafka = settings(true, PASSWORD).kafka;
        assertThat(kafka.clientProperties()).containsEntry("security.protocol", "SASL_SSL")
                .containsEntry("ssl.truststore.location", broker.caPem().toString());

        KafkaRoundTrip.assertEveryEventWrittenIsReadBack(kafka, TOPIC, USER, "kafka-sasl-ssl");
    }

    @Test
    void aClientThatDoesNotTrustTheBrokersCaIsRefused() {
        Properties client = clientOf(settings(false, PASSWORD).kafka); // the JVM's trust store: no test CA in it

        assertThatThrownBy(() -> {
            try (Admin admin = Admin.create(client)) {
                admin.listTopics().names().get();
            }
        }).isInstanceOf(ExecutionException.class).hasCauseInstanceOf(SslAuthenticationException.class);
    }

    @Test
    void theBrokerRefusesAWrongPasswordOverTls() {
        Properties client = clientOf(settings(true, "not-the-password").kafka);

        assertThatThrownBy(() -> {
            try (Admin admin = Admin.create(client)) {
                admin.listTopics().names().get();
            }
        }).isInstanceOf(ExecutionException.class).hasCauseInstanceOf(SaslAuthenticationException.class);
    }

    /** The main job's settings as deploy/k8s passes them: the CA file as an argument, the password in the env. */
    private static ContextInferenceSettings settings(boolean trustTheTestCa, String password) {
        List<String> args = new ArrayList<>(List.of(
                "--kafka.bootstrap-servers", broker.bootstrapServers(),
                "--kafka.security.protocol", "SASL_SSL",
                "--kafka.sasl.mechanism", "SCRAM-SHA-512",
                "--kafka.sasl.username", USER,
                "--model.uri", "/models/next_event_mlp.pt"));
        if (trustTheTestCa) {
            args.addAll(List.of("--kafka.ssl.truststore", broker.caPem().toString()));
        }
        return ContextInferenceSettings.from(args.toArray(String[]::new), new Configuration(),
                Map.of(KafkaAccess.PASSWORD_ENV, password));
    }
}
