package dev.flinkai.jobs.testing;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.security.auth.SecurityProtocol;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * A real single-node Kafka broker in this JVM whose client listener is SASL_SSL, as the Strimzi listener of deploy/k8s:
 * TLS with a certificate for localhost and 127.0.0.1 signed by a CA made for the test with the JDK's keytool, and
 * SCRAM-SHA-512 users. {@link #caPem()} is the CA certificate as a PEM file, as Strimzi's cluster CA secret holds it.
 */
public final class SaslSslTestBroker implements AutoCloseable {

    private static final String STORE_PASSWORD = "keystore-password";

    private final KafkaClusterTestKit cluster;
    private final Path caPem;
    private final String loginConfigBefore = System.getProperty("java.security.auth.login.config");

    /** @param superUser a SCRAM user (created by {@link #addScramUser}) with every right */
    public SaslSslTestBroker(Path certificates, String superUser) throws Exception {
        caPem = certificates.resolve("ca.pem");
        Path brokerKeystore = brokerKeystoreSignedByATestCa(certificates);
        TestKitNodes nodes = new TestKitNodes.Builder()
                .setCombined(true)
                .setNumBrokerNodes(1)
                .setNumControllerNodes(1)
                .setBrokerSecurityProtocol(SecurityProtocol.SASL_PLAINTEXT)
                .build();
        // The test kit sets up SASL (its admin user authenticates with PLAIN) but over plaintext only: its broker
        // listener is switched to SASL_SSL here, with the listener's keystore, and the CA as the trust store of the
        // broker's own connections to that listener (transaction markers, for one). Its controller listener stays
        // as the kit makes it.
        String listener = "listener.name." + nodes.brokerListenerName().value().toLowerCase() + ".";
        cluster = new KafkaClusterTestKit.Builder(nodes)
                .setConfigProp("listener.security.protocol.map", nodes.brokerListenerName().value() + ":SASL_SSL,"
                        + nodes.controllerListenerName().value() + ":" + nodes.controllerListenerProtocol().name)
                .setConfigProp(listener + "ssl.keystore.type", "PKCS12")
                .setConfigProp(listener + "ssl.keystore.location", brokerKeystore.toString())
                .setConfigProp(listener + "ssl.keystore.password", STORE_PASSWORD)
                .setConfigProp(listener + "ssl.key.password", STORE_PASSWORD)
                .setConfigProp(listener + "ssl.truststore.type", "PEM")
                .setConfigProp(listener + "ssl.truststore.location", caPem.toString())
                .setConfigProp("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-512")
                .setConfigProp(listener + "scram-sha-512.sasl.jaas.config",
                        "org.apache.kafka.common.security.scram.ScramLoginModule required;")
                .setConfigProp("super.users", "User:plain-admin;User:ANONYMOUS;User:" + superUser)
                .setConfigProp("offsets.topic.replication.factor", "1")
                .setConfigProp("transaction.state.log.replication.factor", "1")
                .setConfigProp("transaction.state.log.min.isr", "1")
                .setConfigProp("group.initial.rebalance.delay.ms", "0")
                .build();
        cluster.format();
        cluster.startup();
        cluster.waitForReadyBrokers();
    }

    public String bootstrapServers() {
        return cluster.bootstrapServers();
    }

    public Path caPem() {
        return caPem;
    }

    public void createTopics(int partitions, String... topics) throws Exception {
        try (Admin admin = Admin.create(admin())) {
            admin.createTopics(List.of(topics).stream().map(t -> new NewTopic(t, partitions, (short) 1)).toList())
                    .all().get();
        }
    }

    /**
     * Creates the SCRAM-SHA-512 user and waits until it can log in (new credentials reach the broker through its
     * metadata log). {@code client} holds a client's properties with that user's login.
     */
    public void addScramUser(String user, String password, Properties client) throws Exception {
        try (Admin admin = Admin.create(admin())) {
            admin.alterUserScramCredentials(List.of(new UserScramCredentialUpsertion(user,
                    new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), password))).all().get();
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            try (Admin admin = Admin.create(client)) {
                admin.listTopics().names().get();
                return;
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof SaslAuthenticationException) || System.nanoTime() > deadline) {
                    throw new IllegalStateException("SCRAM login of " + user + " over TLS never succeeded", e);
                }
                Thread.sleep(200);
            }
        }
    }

    /** The test kit's own PLAIN admin, over TLS. */
    public Properties admin() {
        Properties admin = new Properties();
        admin.put("bootstrap.servers", bootstrapServers());
        admin.put("security.protocol", "SASL_SSL");
        admin.put("ssl.truststore.type", "PEM");
        admin.put("ssl.truststore.location", caPem.toString());
        admin.put("sasl.mechanism", "PLAIN");
        admin.put("sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required "
                + "username=\"plain-admin\" password=\"plain-admin-secret\";");
        return admin;
    }

    @Override
    public void close() throws Exception {
        cluster.close();
        // the test kit points the JVM's JAAS configuration at a file of its own
        if (loginConfigBefore == null) {
            System.clearProperty("java.security.auth.login.config");
        } else {
            System.setProperty("java.security.auth.login.config", loginConfigBefore);
        }
    }

    /** A CA (its certificate left in {@link #caPem}), and the broker's PKCS12 keystore: its key and chain. */
    private Path brokerKeystoreSignedByATestCa(Path dir) throws IOException, InterruptedException {
        Path ca = dir.resolve("ca.p12");
        Path keystore = dir.resolve("broker.p12");
        Path csr = dir.resolve("broker.csr");
        Path signed = dir.resolve("broker.pem");
        keytool(dir, "-genkeypair", "-alias", "ca", "-keyalg", "RSA", "-keysize", "2048",
                "-dname", "CN=flinkai test CA", "-ext", "bc:c", "-validity", "2", "-keystore", ca.toString());
        keytool(dir, "-exportcert", "-rfc", "-alias", "ca", "-keystore", ca.toString(), "-file", caPem.toString());
        keytool(dir, "-genkeypair", "-alias", "broker", "-keyalg", "RSA", "-keysize", "2048", "-dname", "CN=localhost",
                "-validity", "2", "-keystore", keystore.toString());
        keytool(dir, "-certreq", "-alias", "broker", "-keystore", keystore.toString(), "-file", csr.toString());
        keytool(dir, "-gencert", "-rfc", "-alias", "ca", "-keystore", ca.toString(), "-infile", csr.toString(),
                "-outfile", signed.toString(), "-validity", "2", "-ext", "san=dns:localhost,ip:127.0.0.1");
        keytool(dir, "-importcert", "-noprompt", "-alias", "ca", "-file", caPem.toString(),
                "-keystore", keystore.toString());
        keytool(dir, "-importcert", "-alias", "broker", "-file", signed.toString(), "-keystore", keystore.toString());
        return keystore;
    }

    private static void keytool(Path dir, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "keytool").toString(), "-J-Xmx64m"));
        command.addAll(List.of(args));
        command.addAll(List.of("-storetype", "PKCS12", "-storepass", STORE_PASSWORD));
        Path output = Files.createTempFile(dir, "keytool", ".log");
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile()).start();
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException("keytool " + String.join(" ", args) + " failed: " + Files.readString(output));
        }
    }
}
