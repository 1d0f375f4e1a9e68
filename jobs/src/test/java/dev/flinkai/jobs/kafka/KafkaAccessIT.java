package dev.flinkai.jobs.kafka;

import dev.flinkai.jobs.ContextInferenceSettings;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.security.auth.SecurityProtocol;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;

import static dev.flinkai.jobs.kafka.KafkaRoundTrip.clientOf;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The jobs' Kafka sink and source through a broker that authenticates its clients: a real in-JVM Kafka whose listener
 * takes SCRAM-SHA-512 users, as the Strimzi listener of deploy/k8s does (there over TLS too). The credentials reach
 * the clients the way they do on Kubernetes: the username as an argument, the password from the environment.
 */
class KafkaAccessIT {

    private static final String USER = "context-inference";
    private static final String PASSWORD = "scram-password-from-a-secret";
    private static final String TOPIC = "user-events";

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(1)
            .build());

    private static KafkaClusterTestKit broker;
    private static String loginConfigBefore;

    @BeforeAll
    static void startBrokerWithAScramUser() throws Exception {
        loginConfigBefore = System.getProperty("java.security.auth.login.config");
        // The test kit's SASL listener authenticates its own admin with PLAIN; SCRAM is enabled beside it. Its
        // controller listener stays plaintext (ANONYMOUS): the broker's calls there need cluster rights.
        broker = new KafkaClusterTestKit.Builder(new TestKitNodes.Builder()
                .setCombined(true)
                .setNumBrokerNodes(1)
                .setNumControllerNodes(1)
                .setBrokerSecurityProtocol(SecurityProtocol.SASL_PLAINTEXT)
                .build())
                .setConfigProp("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-512")
                .setConfigProp("listener.name.external.scram-sha-512.sasl.jaas.config",
                        "org.apache.kafka.common.security.scram.ScramLoginModule required;")
                .setConfigProp("super.users", "User:plain-admin;User:ANONYMOUS;User:" + USER)
                .setConfigProp("offsets.topic.replication.factor", "1")
                .setConfigProp("transaction.state.log.replication.factor", "1")
                .setConfigProp("transaction.state.log.min.isr", "1")
                .setConfigProp("group.initial.rebalance.delay.ms", "0")
                .build();
        broker.format();
        broker.startup();
        broker.waitForReadyBrokers();
        try (Admin admin = Admin.create(plainAdmin())) {
            admin.createTopics(List.of(new NewTopic(TOPIC, 2, (short) 1))).all().get();
            admin.alterUserScramCredentials(List.of(new UserScramCredentialUpsertion(USER,
                    new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), PASSWORD))).all().get();
        }
        awaitScramLogin(settings(PASSWORD).kafka);
    }

    @AfterAll
    static void stopBroker() throws Exception {
        if (broker != null) {
            broker.close();
        }
        if (loginConfigBefore == null) {
            System.clearProperty("java.security.auth.login.config");
        } else {
            System.setProperty("java.security.auth.login.config", loginConfigBefore);
        }
    }

    @Test
    void theJobsSinkAndSourceAuthenticateWithTheJobsKafkaUser() throws Exception {
        KafkaAccess kafka = settings(PASSWORD).kafka;
        KafkaRoundTrip.assertEveryEventWrittenIsReadBack(kafka, TOPIC, USER, "kafka-access");
    }

    @Test
    void theBrokerRefusesAWrongPassword() {
        Properties client = clientOf(settings("not-the-password").kafka);

        assertThatThrownBy(() -> {
            try (Admin admin = Admin.create(client)) {
                admin.listTopics().names().get();
            }
        }).isInstanceOf(ExecutionException.class).hasCauseInstanceOf(SaslAuthenticationException.class);
    }

    /** The main job's settings, as its FlinkDeployment passes them: password in the environment. */
    private static ContextInferenceSettings settings(String password) {
        return ContextInferenceSettings.from(new String[] {
                "--kafka.bootstrap-servers", broker.bootstrapServers(),
                "--kafka.security.protocol", "SASL_PLAINTEXT",
                "--kafka.sasl.mechanism", "SCRAM-SHA-512",
                "--kafka.sasl.username", USER,
                "--model.uri", "/models/next_event_mlp.pt"},
                new Configuration(), Map.of(KafkaAccess.PASSWORD_ENV, password));
    }

    private static Properties plainAdmin() {
        Properties admin = new Properties();
        admin.put("bootstrap.servers", broker.bootstrapServers());
        admin.put("security.protocol", "SASL_PLAINTEXT");
        admin.put("sasl.mechanism", "PLAIN");
        admin.put("sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required "
                + "username=\"plain-admin\" password=\"plain-admin-secret\";");
        return admin;
    }

    /** New SCRAM credentials reach the broker through its metadata log: wait until a login succeeds. */
    private static void awaitScramLogin(KafkaAccess kafka) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            try (Admin admin = Admin.create(clientOf(kafka))) {
                admin.listTopics().names().get();
                return;
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof SaslAuthenticationException) || System.nanoTime() > deadline) {
                    throw new IllegalStateException("SCRAM login of " + USER + " never succeeded", e);
                }
                Thread.sleep(200);
            }
        }
    }
}
