package dev.flinkai.jobs;

import dev.flinkai.jobs.testing.EventPump;
import dev.flinkai.jobs.testing.S3TestServer;
import dev.flinkai.operators.inference.djl.ModelArtifacts;
import dev.flinkai.operators.ingest.ReceivedRecord;
import dev.flinkai.operators.simulation.UserBehaviourSimulator;
import dev.flinkai.operators.testing.CommittedModel;
import dev.flinkai.operators.testing.KafkaTestBroker;
import dev.flinkai.schemas.DeadLetter;
import dev.flinkai.schemas.ModelEvent;
import dev.flinkai.schemas.ModelEventKind;
import dev.flinkai.schemas.ModelUpdate;
import dev.flinkai.schemas.Prediction;
import dev.flinkai.schemas.UserEvent;

import org.apache.avro.io.DecoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.StateRecoveryOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.InjectMiniCluster;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;

import static dev.flinkai.operators.testing.AvroTestRecords.avro;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Model versions rolled out to the running job through the model-updates topic, on real parts: an in-JVM Kafka broker,
 * an S3 API server holding the versions and the checkpoints, DJL, a Flink MiniCluster, exactly-once. Version 2 is the
 * committed model trained with the user profile's features ({@code next_event_mlp_v2.pt}).
 */
class ModelSwapIT {

    private static final int USERS = 100;
    private static final Duration SWITCHED_WITHIN = Duration.ofSeconds(10);
    private static final Path MODELS = CommittedModel.modelFile().getParent();

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(2)
            .build());

    @RegisterExtension
    static final KafkaTestBroker KAFKA = new KafkaTestBroker();

    private static S3TestServer s3;
    private static ModelUpdate version2;
    private static ModelUpdate version2WrongChecksum;

    @BeforeAll
    static void startServices() throws Exception {
        s3 = new S3TestServer();
        s3.createBucket("flink");
        s3.createBucket("models");
        publish("1.0.0", "next_event_mlp");
        version2 = publish("2.0.0", "next_event_mlp_v2");
        version2WrongChecksum = ModelUpdate.newBuilder(publish("2.0.1", "next_event_mlp_v2")).setSha256("0".repeat(64))
                .build();
    }

    /** Uploads a committed model as {@code version}, as {@code deploy/local/model.sh publish} does. */
    private static ModelUpdate publish(String version, String file) throws Exception {
        Path pt = MODELS.resolve(file + ".pt");
        String key = "next-event/" + version + "/model";
        s3.upload("models", key + ".pt", pt);
        Path json = Files.createTempFile("model-", ".json");
        Files.writeString(json, Files.readString(MODELS.resolve(file + ".json"))
                .replaceFirst("\"version\"\\s*:\\s*\"[^\"]*\"", "\"version\": \"" + version + "\""));
        s3.upload("models", key + ".json", json);
        return ModelUpdate.newBuilder().setModelName(CommittedModel.NAME).setVersion(version)
                .setUri("s3://models/" + key + ".pt").setSha256(ModelArtifacts.sha256Hex(pt)).build();
    }

    @AfterAll
    static void stopServices() throws Exception {
        if (s3 != null) {
            s3.close();
        }
    }

    @Test
    void aSwapMidStreamSwitchesEveryPredictionWithinTenSecondsWithoutARestartAndASavepointKeepsIt(
            @InjectMiniCluster MiniCluster miniCluster, @org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Topics topics = Topics.create("swap");
        produceProfiles(topics);
        JobClient job = startJob(topics, "swap", Function.identity(), null);
        long publishedAt;
        try (EventPump pump = new EventPump(KAFKA.bootstrapServers(), topics.events, USERS, 1)) {
            pump.runFor(Duration.ofSeconds(4));
            awaitPredictions(topics, 1);
            // Malformed control records and a corrupt upload first: none may stop or change what is served.
            produce(topics.modelUpdates, "garbage, not Avro".getBytes(StandardCharsets.UTF_8));
            produce(topics.modelUpdates, avro(ModelUpdate.newBuilder(version2).setModelName("churn-model").build()));
            produce(topics.modelUpdates, avro(ModelUpdate.newBuilder(version2).setUri("").build()));
            produce(topics.modelUpdates, avro(version2WrongChecksum));
            pump.runFor(Duration.ofSeconds(2));
            publishedAt = System.currentTimeMillis();
            produce(topics.modelUpdates, avro(ModelUpdate.newBuilder(version2).setPublishedAtMillis(publishedAt).build()));
            pump.runFor(SWITCHED_WITHIN.plusSeconds(4));
            List<Prediction> predictions = awaitPredictions(topics, pump.produced());
            int failovers = failoversOf(miniCluster, job.getJobID());
            List<ModelEvent> events = decode(KAFKA.readCommitted(topics.modelEvents, 8, Duration.ofSeconds(30)),
                    ModelEvent.class);
            List<DeadLetter> deadLetters = decode(KAFKA.readCommitted(topics.deadLetters, 3, Duration.ofSeconds(30)),
                    DeadLetter.class);
            String savepoint = job.stopWithSavepoint(false, dir.toUri().toString(), SavepointFormatType.CANONICAL).get();

            assertThat(failovers).as("restarts").isZero();
            pump.assertExactlyOnePredictionPerEvent(predictions);
            assertSwitchedWithin(pump, predictions, publishedAt);
            assertThat(deadLetters).hasSize(3).extracting(DeadLetter::getReason)
                    .contains("invalid ModelUpdate: unknown model name 'churn-model': this job serves 'next-event-mlp'",
                            "invalid ModelUpdate: a model update without a uri")
                    .anyMatch(reason -> reason.startsWith("not a ModelUpdate in Avro binary"));
            assertThat(events).filteredOn(e -> e.getVersion().equals("2.0.1")).hasSize(2).allSatisfy(e -> {
                assertThat(e.getKind()).isEqualTo(ModelEventKind.REJECTED);
                assertThat(e.getReason()).contains("Checksum mismatch");
            });
            for (int subtask = 0; subtask < 2; subtask++) {
                int s = subtask;
                assertThat(events).filteredOn(e -> e.getSubtask() == s && e.getVersion().equals("2.0.0"))
                        .extracting(ModelEvent::getKind).containsExactly(ModelEventKind.LOADED, ModelEventKind.ACTIVE);
            }
            long swapMillis = events.stream().filter(e -> e.getKind() == ModelEventKind.ACTIVE
                    && e.getVersion().equals("2.0.0")).mapToLong(ModelEvent::getAtMillis).max().orElseThrow() - publishedAt;
            System.out.printf("ModelSwapIT: version 2.0.0 active on every subtask %d ms after it was published%n",
                    swapMillis);

            // The job resumed from the savepoint serves version 2.0.0 from its first prediction on.
            JobClient resumed = startJob(topics, "swap-resumed", Function.identity(), savepoint);
            int before = pump.produced();
            pump.runFor(Duration.ofSeconds(3));
            List<Prediction> all = awaitPredictions(topics, pump.produced());
            resumed.cancel().get();
            pump.assertExactlyOnePredictionPerEvent(all);
            List<Prediction> afterRestore = all.stream().filter(p -> pump.indexOf(p.getEventId()) >= before).toList();
            assertThat(afterRestore).isNotEmpty().allSatisfy(p -> assertThat(p.getModelVersion()).isEqualTo("2.0.0"));
        }
    }

    @Test
    void aFailoverInTheMiddleOfASwapLosesAndDuplicatesNothingAndTheSwapCompletes(
            @InjectMiniCluster MiniCluster miniCluster) throws Exception {
        Topics topics = Topics.create("swap-failover");
        produceProfiles(topics);
        FailOnEvent.FAILED.set(false);
        JobClient job = startJob(topics, "swap-failover", records -> records.map(new FailOnEvent())
                .uid("test-failure-injector").name("Fail once on the poison event"), null);
        try (EventPump pump = new EventPump(KAFKA.bootstrapServers(), topics.events, USERS, 2)) {
            pump.runFor(Duration.ofSeconds(4));
            awaitPredictions(topics, 1);
            long publishedAt = System.currentTimeMillis();
            produce(topics.modelUpdates, avro(ModelUpdate.newBuilder(version2).setPublishedAtMillis(publishedAt).build()));
            // Fetching, loading and checking the version takes longer than this: the task fails in the middle of it.
            Thread.sleep(150);
            pump.send(FailOnEvent.POISON);
            pump.runFor(SWITCHED_WITHIN.multipliedBy(3)); // the recovery and the swap after it
            List<Prediction> predictions = awaitPredictions(topics, pump.produced());
            int failovers = failoversOf(miniCluster, job.getJobID());
            List<ModelEvent> events = decode(KAFKA.readAllCommitted(topics.modelEvents), ModelEvent.class);
            job.cancel().get();

            assertThat(FailOnEvent.FAILED.get()).as("the injected failure happened").isTrue();
            assertThat(failovers).as("failovers").isEqualTo(1);
            pump.assertExactlyOnePredictionPerEvent(predictions);
            // The recovery itself takes seconds here (cancel, redeploy, restore); from the restarted tasks' first
            // batch the swap completes within the same 10 s, and every later prediction is version 2.0.0's.
            long switchedAt = 0;
            for (int subtask = 0; subtask < 2; subtask++) {
                int s = subtask;
                ModelEvent active = events.stream().filter(e -> e.getSubtask() == s && e.getKind() == ModelEventKind.ACTIVE
                        && e.getVersion().equals("2.0.0")).findFirst().orElseThrow(() -> new AssertionError(
                        "subtask " + s + " never served 2.0.0: " + events));
                ModelEvent restarted = events.stream().filter(e -> e.getSubtask() == s
                        && e.getKind() == ModelEventKind.ACTIVE && e.getAtMillis() <= active.getAtMillis()
                        && ("started".equals(e.getReason()) || "restored".equals(e.getReason())))
                        .reduce((first, second) -> second).orElseThrow();
                System.out.printf("ModelSwapIT: after the failover subtask %d served 2.0.0 %d ms after its first batch%n",
                        s, active.getAtMillis() - restarted.getAtMillis());
                assertThat(active.getAtMillis() - restarted.getAtMillis()).isLessThanOrEqualTo(SWITCHED_WITHIN.toMillis());
                switchedAt = Math.max(switchedAt, active.getAtMillis());
            }
            long after = switchedAt + 1_000; // batches that started before the switch may finish just after it
            assertThat(predictions).filteredOn(p -> p.getPredictTimeMillis() > after)
                    .as("predictions made after the switch").hasSizeGreaterThan(50)
                    .allSatisfy(p -> assertThat(p.getModelVersion()).isEqualTo("2.0.0"));
        }
    }

    /**
     * Every event sent {@link #SWITCHED_WITHIN} after the update was published is scored by version 2.0.0, and
     * version 1 scored events before it.
     */
    private static void assertSwitchedWithin(EventPump pump, List<Prediction> predictions, long publishedAt) {
        List<Prediction> late = predictions.stream()
                .filter(p -> pump.sentAt(p.getEventId()) >= publishedAt + SWITCHED_WITHIN.toMillis()).toList();
        assertThat(late).as("predictions of events sent 10 s after the update").hasSizeGreaterThan(50)
                .allSatisfy(p -> {
                    assertThat(p.getModelVersion()).isEqualTo("2.0.0");
                    assertThat(p.getFallback()).isFalse();
                });
        assertThat(predictions).as("version 1 served before the update")
                .anyMatch(p -> p.getModelVersion().equals("1.0.0") && pump.sentAt(p.getEventId()) < publishedAt);
    }

    // ---------------------------------------------------------------------------------------------

    private record Topics(String events, String predictions, String deadLetters, String profiles,
                          String modelUpdates, String modelEvents) {
        static Topics create(String name) throws Exception {
            String suffix = name + "-" + UUID.randomUUID().toString().substring(0, 8);
            Topics t = new Topics("events-" + suffix, "predictions-" + suffix, "dead-letters-" + suffix,
                    "profiles-" + suffix, "model-updates-" + suffix, "model-events-" + suffix);
            KAFKA.createTopics(2, t.events, t.predictions, t.deadLetters, t.modelEvents, t.profiles);
            KAFKA.createTopics(1, t.modelUpdates);
            return t;
        }
    }

    private static JobClient startJob(Topics topics, String name,
                                      Function<DataStream<ReceivedRecord>, DataStream<ReceivedRecord>> beforePipeline,
                                      String savepoint) throws Exception {
        ContextInferenceSettings settings = ContextInferenceSettings.fromArgs(
                "--kafka.bootstrap-servers", KAFKA.bootstrapServers(),
                "--topic.events", topics.events, "--topic.predictions", topics.predictions,
                "--topic.dead-letters", topics.deadLetters, "--topic.profiles", topics.profiles,
                "--topic.model-updates", topics.modelUpdates, "--topic.model-events", topics.modelEvents,
                "--kafka.group-id", "it-" + name,
                "--delivery", "exactly-once",
                "--checkpoint.interval", "1s",
                "--checkpoint.dir", "s3://flink/checkpoints/" + name,
                "--model.uri", "s3://models/next-event/1.0.0/model.pt",
                "--s3.endpoint", s3.endpoint(),
                "--s3.access-key", S3TestServer.ACCESS_KEY,
                "--s3.secret-key", S3TestServer.SECRET_KEY);
        StreamExecutionEnvironment env = ContextInferenceJob.createEnvironment(settings);
        if (savepoint != null) {
            Configuration restore = new Configuration();
            restore.set(StateRecoveryOptions.SAVEPOINT_PATH, savepoint);
            env.configure(restore);
        }
        env.setParallelism(2);
        ContextInferenceJob.buildPipeline(beforePipeline.apply(ContextInferenceJob.kafkaInput(env, settings)),
                ContextInferenceJob.modelUpdates(env, settings, ContextInferenceJob.servedModelName(settings,
                        ContextInferenceJob.refuseAModelThatDoesNotFit(settings))),
                ContextInferenceJob.kafkaOutputs(settings), settings);
        return env.executeAsync("model-swap-it-" + name);
    }

    /** The profile of every simulated user, as the generator writes them. */
    private static void produceProfiles(Topics topics) throws Exception {
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        for (int u = 0; u < USERS; u++) {
            String user = UserBehaviourSimulator.userId(u);
            records.add(new ProducerRecord<>(topics.profiles, user.getBytes(StandardCharsets.UTF_8),
                    avro(UserBehaviourSimulator.profileOf(user, System.currentTimeMillis()))));
        }
        KAFKA.produce(topics.profiles, records);
    }

    private static void produce(String topic, byte[] value) throws Exception {
        KAFKA.produce(topic, List.of(new ProducerRecord<>(topic, null, value)));
    }

    private static List<Prediction> awaitPredictions(Topics topics, int expected) throws IOException {
        List<Prediction> predictions = decode(KAFKA.readCommitted(topics.predictions, expected, Duration.ofSeconds(120)),
                Prediction.class);
        assertThat(predictions.size()).as("predictions within 120 s").isGreaterThanOrEqualTo(expected);
        return predictions;
    }

    private static int failoversOf(MiniCluster miniCluster, JobID job) throws Exception {
        int n = 0;
        for (var ignored : miniCluster.getExecutionGraphInfo(job).get().getExceptionHistory()) {
            n++;
        }
        return n;
    }

    private static <T extends SpecificRecord> List<T> decode(List<ConsumerRecord<byte[], byte[]>> records, Class<T> type)
            throws IOException {
        SpecificDatumReader<T> reader = new SpecificDatumReader<>(type);
        List<T> decoded = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : records) {
            decoded.add(reader.read(null, DecoderFactory.get().binaryDecoder(r.value(), null)));
        }
        return decoded;
    }

    /** Throws once, on the poison event: a task failure while a model version loads. */
    static final class FailOnEvent implements MapFunction<ReceivedRecord, ReceivedRecord> {
        static final UserEvent POISON = UserEvent.newBuilder().setEventId("poison").setUserId("user-0")
                .setSessionId("s").setEventType(dev.flinkai.schemas.EventType.QUERY)
                .setEventTimeMillis(System.currentTimeMillis()).build();
        static final AtomicBoolean FAILED = new AtomicBoolean();

        @Override
        public ReceivedRecord map(ReceivedRecord record) {
            if (record.event != null && "poison".equals(record.event.getEventId()) && FAILED.compareAndSet(false, true)) {
                throw new IllegalStateException("Injected failure while a model version loads");
            }
            return record;
        }
    }
}
