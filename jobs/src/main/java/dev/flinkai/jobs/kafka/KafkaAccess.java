package dev.flinkai.jobs.kafka;

import dev.flinkai.operators.config.Settings;

import org.apache.flink.configuration.ConfigOption;

import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import static org.apache.flink.configuration.ConfigOptions.key;

/**
 * How the jobs' Kafka clients reach the brokers: the bootstrap servers and, for a secured cluster (such as the TLS
 * listener with SCRAM users of deploy/k8s), the client properties for TLS and SASL. Read once at start from the job's
 * settings. The password is taken from the environment unless given, so that it need not be an argument: arguments
 * are part of the job's configuration, environment variables can come from a Kubernetes Secret.
 */
public final class KafkaAccess implements Serializable {
    private static final long serialVersionUID = 1L;

    public static final String USERNAME_ENV = "KAFKA_USERNAME";
    public static final String PASSWORD_ENV = "KAFKA_PASSWORD";

    /** Kafka's security.protocol values. */
    public enum Protocol {
        PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL;

        boolean sasl() {
            return this == SASL_PLAINTEXT || this == SASL_SSL;
        }

        boolean tls() {
            return this == SSL || this == SASL_SSL;
        }
    }

    /** The SASL mechanisms with a username and a password, and the login module that sends them. */
    public enum SaslMechanism {
        SCRAM_SHA_512("SCRAM-SHA-512", "org.apache.kafka.common.security.scram.ScramLoginModule"),
        SCRAM_SHA_256("SCRAM-SHA-256", "org.apache.kafka.common.security.scram.ScramLoginModule"),
        PLAIN("PLAIN", "org.apache.kafka.common.security.plain.PlainLoginModule");

        private final String name;
        private final String loginModule;

        SaslMechanism(String name, String loginModule) {
            this.name = name;
            this.loginModule = loginModule;
        }

        @Override
        public String toString() {
            return name;
        }
    }

    public static final ConfigOption<Protocol> SECURITY_PROTOCOL = key("kafka.security.protocol")
            .enumType(Protocol.class).defaultValue(Protocol.PLAINTEXT)
            .withDescription("How the Kafka clients connect: `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`.");
    public static final ConfigOption<SaslMechanism> SASL_MECHANISM = key("kafka.sasl.mechanism")
            .enumType(SaslMechanism.class).defaultValue(SaslMechanism.SCRAM_SHA_512)
            .withDescription("With a SASL protocol: `SCRAM-SHA-512`, `SCRAM-SHA-256` or `PLAIN`.");
    public static final ConfigOption<String> SASL_USERNAME = key("kafka.sasl.username").stringType().noDefaultValue()
            .withDescription("With a SASL protocol. Default: env `" + USERNAME_ENV + "`.");
    public static final ConfigOption<String> SASL_PASSWORD = key("kafka.sasl.password").stringType().noDefaultValue()
            .withDescription("With a SASL protocol. Default: env `" + PASSWORD_ENV + "`, the better place for it.");
    public static final ConfigOption<String> SSL_TRUSTSTORE = key("kafka.ssl.truststore").stringType().noDefaultValue()
            .withDescription("With `SSL` or `SASL_SSL`: a PEM file of the CA certificates that sign the brokers' "
                    + "certificates. Default: the JVM's trust store.");

    /** Every option {@link #read} reads. */
    public static final List<ConfigOption<?>> OPTIONS =
            List.of(SECURITY_PROTOCOL, SASL_MECHANISM, SASL_USERNAME, SASL_PASSWORD, SSL_TRUSTSTORE);

    private final String bootstrapServers;
    private final LinkedHashMap<String, String> clientProperties;

    private KafkaAccess(String bootstrapServers, Map<String, String> clientProperties) {
        this.bootstrapServers = bootstrapServers;
        this.clientProperties = new LinkedHashMap<>(clientProperties);
    }

    /** Brokers that take unauthenticated plaintext connections (Kafka's default). */
    public static KafkaAccess plaintext(String bootstrapServers) {
        return new KafkaAccess(bootstrapServers, Map.of());
    }

    /**
     * From the job's settings, with {@code environment} (the process's, in a job) for the credentials not given as
     * settings. A setting that the protocol does not use fails, naming its key, as does a missing credential.
     */
    public static KafkaAccess read(Settings s, String bootstrapServers, Map<String, String> environment) {
        Protocol protocol = s.get(SECURITY_PROTOCOL);
        Map<String, String> properties = new LinkedHashMap<>();
        if (protocol != Protocol.PLAINTEXT) {
            properties.put("security.protocol", protocol.name());
        }
        String truststore = s.get(SSL_TRUSTSTORE);
        if (truststore != null) {
            if (!protocol.tls()) {
                throw Settings.invalid(SSL_TRUSTSTORE, truststore, "needs --" + SECURITY_PROTOCOL.key()
                        + " SSL or SASL_SSL, not " + protocol);
            }
            properties.put("ssl.truststore.type", "PEM");
            properties.put("ssl.truststore.location", truststore);
        }
        if (!protocol.sasl()) {
            for (ConfigOption<?> sasl : List.of(SASL_MECHANISM, SASL_USERNAME, SASL_PASSWORD)) {
                if (s.getOptional(sasl).isPresent()) {
                    throw new IllegalArgumentException("Setting --" + sasl.key() + " needs --"
                            + SECURITY_PROTOCOL.key() + " SASL_PLAINTEXT or SASL_SSL, not " + protocol);
                }
            }
            return new KafkaAccess(bootstrapServers, properties);
        }
        SaslMechanism mechanism = s.get(SASL_MECHANISM);
        String username = credential(s, SASL_USERNAME, USERNAME_ENV, environment, protocol);
        String password = credential(s, SASL_PASSWORD, PASSWORD_ENV, environment, protocol);
        properties.put("sasl.mechanism", mechanism.toString());
        properties.put("sasl.jaas.config", mechanism.loginModule + " required username=\"" + quoted(username)
                + "\" password=\"" + quoted(password) + "\";");
        return new KafkaAccess(bootstrapServers, properties);
    }

    public String bootstrapServers() {
        return bootstrapServers;
    }

    /** The security properties for a Kafka client; empty for plaintext. A new copy each time. */
    public Properties clientProperties() {
        Properties properties = new Properties();
        properties.putAll(clientProperties);
        return properties;
    }

    /** Never the credentials. */
    @Override
    public String toString() {
        return "KafkaAccess{" + bootstrapServers + ", "
                + clientProperties.getOrDefault("security.protocol", Protocol.PLAINTEXT.name()) + "}";
    }

    private static String credential(Settings s, ConfigOption<String> option, String env,
                                     Map<String, String> environment, Protocol protocol) {
        String value = s.get(option, environment.get(env));
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException("Missing setting --" + option.key() + " (or env " + env
                    + "), needed for --" + SECURITY_PROTOCOL.key() + " " + protocol);
        }
        return value;
    }

    /** A value inside a JAAS double-quoted string. */
    private static String quoted(String value) {
        return value.replace("\\", "\\\\").replace("\"", "\\\"");
    }
}
