package dev.flinkai.jobs;

import dev.flinkai.jobs.testing.S3TestServer;
import dev.flinkai.jobs.testing.SaslSslTestBroker;
import dev.flinkai.operators.simulation.UserBehaviourSimulator;
import dev.flinkai.operators.testing.CommittedModel;
import dev.flinkai.schemas.UserEvent;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.runtime.client.JobStatusMessage;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.test.junit5.InjectMiniCluster;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.WriterAppender;
import org.apache.logging.log4j.core.config.LoggerConfig;
import org.apache.logging.log4j.core.layout.PatternLayout;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import static dev.flinkai.operators.testing.AvroTestRecords.avro;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The credentials of a secured deployment never show where an operator looks: the main job, started by its own
 * {@code main} with the Kafka password and the S3 secret key given as arguments (the worst case: deploy/k8s passes
 * them in the environment), runs against a SASL_SSL broker and an S3 server until predictions commit and a checkpoint
 * is in the bucket. Then every page of the web UI's REST API that shows the job or the cluster, and everything the
 * job, the JobManager, the TaskManager and the Kafka clients logged meanwhile (Kafka's clients at INFO, where they
 * print their whole configuration), are searched for both secrets.
 */
class SecretsNeverShowIT {

    private static final String USER = "context-inference";
    private static final String KAFKA_PASSWORD = "kafka-password-7f3c9a";
    private static final String S3_SECRET = S3TestServer.SECRET_KEY;
    private static final int EVENTS = 200;
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(2)
            .build());

    @TempDir
    static Path certificates;

    private static SaslSslTestBroker kafka;
    private static S3TestServer s3;
    private static String[] args;

    @BeforeAll
    static void startServices() throws Exception {
        kafka = new SaslSslTestBroker(certificates, USER);
        kafka.createTopics(2, "user-events", "predictions", "dead-letters", "user-profiles", "model-updates",
                "model-events");
        s3 = new S3TestServer();
        s3.createBucket("flink");
        s3.createBucket("models");
        Path model = CommittedModel.modelFile();
        s3.upload("models", "next-event/next_event_mlp.pt", model);
        s3.upload("models", "next-event/next_event_mlp.json", model.resolveSibling("next_event_mlp.json"));
        args = new String[] {
                "--kafka.bootstrap-servers", kafka.bootstrapServers(),
                "--kafka.security.protocol", "SASL_SSL",
                "--kafka.ssl.truststore", kafka.caPem().toString(),
                "--kafka.sasl.username", USER,
                "--kafka.sasl.password", KAFKA_PASSWORD,
                "--delivery", "exactly-once",
                "--checkpoint.interval", "1s",
                "--checkpoint.dir", "s3://flink/checkpoints/secrets",
                "--model.uri", "s3://models/next-event/next_event_mlp.pt",
                "--s3.endpoint", s3.endpoint(),
                "--s3.access-key", S3TestServer.ACCESS_KEY,
                "--s3.secret-key", S3_SECRET};
        kafka.addScramUser(USER, KAFKA_PASSWORD, client());
    }

    @AfterAll
    static void stopServices() throws Exception {
        if (s3 != null) {
            s3.close();
        }
        if (kafka != null) {
            kafka.close();
        }
    }

    @Test
    void neitherTheKafkaPasswordNorTheS3SecretShowInTheWebUiOrTheLogs(@InjectMiniCluster MiniCluster cluster)
            throws Exception {
        Map<String, String> pages = new LinkedHashMap<>();
        JobID job;
        String logs;
        try (LogCapture capture = new LogCapture()) {
            Thread main = new Thread(() -> {
                try {
                    ContextInferenceJob.main(args);
                } catch (Exception cancelledAtTheEnd) {
                    // the test cancels the job
                }
            }, "context-inference-main");
            main.start();
            job = awaitRunning(cluster, "context-inference");
            produceEvents();
            assertThat(committedPredictions()).as("predictions committed within 120 s").isGreaterThanOrEqualTo(EVENTS);
            assertThat(s3.list("flink", "checkpoints/secrets/")).as("a checkpoint in the bucket")
                    .anyMatch(key -> key.endsWith("_metadata"));

            URI rest = cluster.getRestAddress().get();
            for (String page : List.of("/jobs/" + job + "/config", "/jobs/" + job + "/jobmanager/config",
                    "/jobs/" + job, "/jobs/" + job + "/plan", "/jobs/" + job + "/checkpoints/config",
                    "/jobs/" + job + "/exceptions", "/jobmanager/config", "/jobmanager/environment",
                    "/taskmanagers", "/overview")) {
                pages.put(page, get(rest.resolve(page)));
            }
            cluster.cancelJob(job).get();
            main.join(30_000);
            logs = capture.text();
        }

        assertThat(pages.get("/jobs/" + job + "/config"))
                .as("the job's configuration page shows the settings, the secret ones masked")
                .contains("\"kafka.sasl.password\":\"******\"").contains("\"s3.secret-key\":\"******\"")
                .contains("\"kafka.sasl.username\":\"" + USER + "\"");
        pages.forEach((page, body) ->
                assertThat(body).as(page).doesNotContain(KAFKA_PASSWORD).doesNotContain(S3_SECRET));
        assertThat(logs).as("the Kafka clients logged their configuration, the JAAS login masked")
                .contains("sasl.jaas.config = [hidden]").contains("security.protocol = SASL_SSL");
        assertThat(logs).as("logs").doesNotContain(KAFKA_PASSWORD).doesNotContain(S3_SECRET);
    }

    private static JobID awaitRunning(MiniCluster cluster, String name) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (System.nanoTime() < deadline) {
            for (JobStatusMessage job : cluster.listJobs().get()) {
                if (job.getJobName().equals(name) && job.getJobState() == JobStatus.RUNNING) {
                    return job.getJobId();
                }
            }
            Thread.sleep(200);
        }
        throw new AssertionError("job " + name + " not RUNNING within 120 s");
    }

    private static void produceEvents() throws Exception {
        UserBehaviourSimulator simulator = new UserBehaviourSimulator(11, 20, 0.8, 0, 1);
        long now = System.currentTimeMillis();
        try (KafkaProducer<byte[], byte[]> producer =
                     new KafkaProducer<>(client(), new ByteArraySerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < EVENTS; i++) {
                UserEvent e = simulator.next("secrets-" + i, now + i);
                producer.send(new ProducerRecord<>("user-events",
                        e.getUserId().getBytes(StandardCharsets.UTF_8), avro(e))).get();
            }
        }
    }

    private static int committedPredictions() {
        Properties p = client();
        p.put("isolation.level", "read_committed");
        p.put("auto.offset.reset", "earliest");
        p.put("group.id", "secrets-it-reader");
        int n = 0;
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        try (KafkaConsumer<byte[], byte[]> consumer =
                     new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of("predictions"));
            while (n < EVENTS && System.nanoTime() < deadline) {
                ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(500));
                n += records.count();
            }
        }
        return n;
    }

    /** A client of the job's Kafka user, from the job's own settings. */
    private static Properties client() {
        Properties client = ContextInferenceSettings.fromArgs(args).kafka.clientProperties();
        client.put("bootstrap.servers", kafka.bootstrapServers());
        return client;
    }

    private static String get(URI uri) throws Exception {
        HttpResponse<String> response =
                HTTP.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(uri.toString()).isEqualTo(200);
        return response.body();
    }

    /**
     * Everything logged in this JVM at INFO and above while open, the Kafka clients included (the tests' log
     * configuration keeps them at WARN otherwise).
     */
    private static final class LogCapture implements AutoCloseable {
        private final StringWriter text = new StringWriter();
        private final LoggerContext context = (LoggerContext) LogManager.getContext(false);
        private final LoggerConfig kafkaLogger = context.getConfiguration().getLoggerConfig("org.apache.kafka");
        private final Level kafkaLevelBefore = kafkaLogger.getLevel();
        private final WriterAppender appender;

        LogCapture() {
            appender = WriterAppender.newBuilder().setName("secrets-capture").setTarget(text)
                    .setLayout(PatternLayout.newBuilder().withPattern("%-5p %c [%t] %m%n%ex").build()).build();
            appender.start();
            context.getConfiguration().addAppender(appender);
            context.getConfiguration().getRootLogger().addAppender(appender, Level.INFO, null);
            if (!kafkaLogger.getName().equals("org.apache.kafka")) {
                throw new IllegalStateException("log4j2-test.properties no longer names the logger org.apache.kafka");
            }
            kafkaLogger.setLevel(Level.INFO);
            context.updateLoggers();
        }

        String text() {
            return text.toString();
        }

        @Override
        public void close() {
            kafkaLogger.setLevel(kafkaLevelBefore);
            context.getConfiguration().getRootLogger().removeAppender(appender.getName());
            context.updateLoggers();
            appender.stop();
        }
    }
}
