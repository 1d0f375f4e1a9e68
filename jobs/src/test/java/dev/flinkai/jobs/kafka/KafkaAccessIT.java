package dev.flinkai.jobs.kafka;

import dev.flinkai.jobs.ContextInferenceSettings;
import dev.flinkai.operators.ingest.ReceivedRecord;
import dev.flinkai.operators.simulation.UserBehaviourSimulator;
import dev.flinkai.schemas.UserEvent;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.util.CloseableIterator;
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

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;

import static org.assertj.core.api.Assertions.assertThat;
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
    private static final int EVENTS = 500;

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
        List<UserEvent> events = simulatedEvents();

        StreamExecutionEnvironment writer = StreamExecutionEnvironment.getExecutionEnvironment();
        writer.fromData(events, new AvroTypeInfo<>(UserEvent.class))
                .sinkTo(KafkaIo.avroSink(kafka, TOPIC, UserEvent.class,
                        e -> e.getUserId().getBytes(StandardCharsets.UTF_8), DeliveryGuarantee.AT_LEAST_ONCE,
                        "kafka-access-it", Duration.ofMinutes(10), Duration.ofMillis(5)));
        writer.execute("write through SCRAM");

        StreamExecutionEnvironment reader = StreamExecutionEnvironment.getExecutionEnvironment();
        List<String> read = new ArrayList<>();
        try (CloseableIterator<ReceivedRecord> records = reader
                .fromSource(KafkaIo.userEventSource(kafka, TOPIC, USER), WatermarkStrategy.noWatermarks(), "source")
                .executeAndCollect("read through SCRAM")) {
            while (read.size() < EVENTS && records.hasNext()) {
                read.add(records.next().event.getEventId());
            }
        }

        assertThat(read).containsExactlyInAnyOrderElementsOf(events.stream().map(UserEvent::getEventId).toList());
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

    private static Properties clientOf(KafkaAccess kafka) {
        Properties client = kafka.clientProperties();
        client.put("bootstrap.servers", kafka.bootstrapServers());
        client.put("request.timeout.ms", "10000");
        client.put("default.api.timeout.ms", "20000");
        return client;
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

    private static List<UserEvent> simulatedEvents() {
        UserBehaviourSimulator simulator = new UserBehaviourSimulator(7, 50, 0.8, 0, 1);
        List<UserEvent> events = new ArrayList<>();
        for (int i = 0; i < EVENTS; i++) {
            events.add(simulator.next("kafka-access-" + i, 1_700_000_000_000L + i));
        }
        return events;
    }
}
