package dev.flinkai.jobs;

import dev.flinkai.jobs.testing.EventPump;
import dev.flinkai.jobs.testing.ModelServerProcess;
import dev.flinkai.operators.context.UserContext;
import dev.flinkai.operators.features.FeatureExtractor;
import dev.flinkai.operators.inference.ModelMetadata;
import dev.flinkai.operators.inference.djl.BatchScorer;
import dev.flinkai.operators.inference.djl.DjlModel;
import dev.flinkai.operators.inference.djl.ModelArtifacts;
import dev.flinkai.operators.simulation.UserBehaviourSimulator;
import dev.flinkai.operators.testing.CommittedModel;
import dev.flinkai.operators.testing.KafkaTestBroker;
import dev.flinkai.schemas.ModelEvent;
import dev.flinkai.schemas.ModelEventKind;
import dev.flinkai.schemas.ModelUpdate;
import dev.flinkai.schemas.Prediction;
import dev.flinkai.schemas.UserEvent;

import org.apache.avro.io.DecoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
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
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Predicate;
import java.util.stream.Collectors;

import static dev.flinkai.operators.testing.AvroTestRecords.avro;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The main job scoring through the real model server (deploy/model-server, the committed model behind the Open
 * Inference Protocol), exactly-once: with the server killed mid-run and started again (no job restart, every event
 * exactly one prediction, the in-process fallback model answering (flagged) while the server is gone, and the server
 * answering again once it is back); and switched by a model update from one version of the server's repository to
 * another, as {@code deploy/local/model.sh publish} does on a stack with the remote backend.
 */
class RemoteInferenceIT {

    private static final int USERS = 100;
    private static final Duration SWITCHED_WITHIN = Duration.ofSeconds(10);
    private static final Path MODELS = CommittedModel.modelFile().getParent();
    /**
     * Longer than the default 500 ms, below the batch's 2 s: on a loaded 2-core machine the server, the job and the
     * broker share the cores, and an answer that comes late is a fallback the assertions would count against it.
     */
    private static final String CALL_TIMEOUT = "1500ms";

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(2)
            .build());

    @RegisterExtension
    static final KafkaTestBroker KAFKA = new KafkaTestBroker();

    private static ModelServerProcess server;

    @BeforeAll
    static void startServices() throws Exception {
        server = new ModelServerProcess().start();
    }

    @AfterAll
    static void stopServices() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void aModelServerThatDiesAndComesBackCostsNoRestartAndNoPrediction(@InjectMiniCluster MiniCluster miniCluster)
            throws Exception {
        String suffix = UUID.randomUUID().toString().substring(0, 8);
        String events = "events-" + suffix;
        String predictionsTopic = "predictions-" + suffix;
        KAFKA.createTopics(2, events);
        KAFKA.createTopics(2, predictionsTopic, "dead-letters-" + suffix, "model-events-" + suffix);
        UserBehaviourSimulator simulator = new UserBehaviourSimulator(5, USERS, 0.8, 0, 1);
        List<UserEvent> produced = new ArrayList<>(); // in the order they were produced: each user's order in the job

        ContextInferenceSettings settings = ContextInferenceSettings.fromArgs(
                "--kafka.bootstrap-servers", KAFKA.bootstrapServers(),
                "--topic.events", events, "--topic.predictions", predictionsTopic,
                "--topic.dead-letters", "dead-letters-" + suffix,
                "--topic.profiles", "", "--topic.model-updates", "", "--topic.model-events", "model-events-" + suffix,
                "--kafka.group-id", "remote-" + suffix,
                "--checkpoint.interval", "1s",
                "--model.uri", server.modelUri(),
                "--model.fallback-uri", CommittedModel.uri(),
                "--model.remote.timeout", CALL_TIMEOUT,
                "--model.remote.breaker.window", "10",
                "--model.remote.breaker.open-for", "2s");
        StreamExecutionEnvironment env = ContextInferenceJob.createEnvironment(settings);
        env.setParallelism(2);
        ContextInferenceJob.buildPipeline(ContextInferenceJob.kafkaInput(env, settings), null,
                ContextInferenceJob.kafkaOutputs(settings), settings);
        JobClient job = env.executeAsync("remote-inference-it");
        List<Prediction> predictions;
        try {
            produce(events, simulate(simulator, "up", 600), produced);
            awaitPredictions(predictionsTopic, produced.size());

            server.stop();
            produce(events, simulate(simulator, "down", 600), produced);
            awaitPredictions(predictionsTopic, produced.size());

            server.start();
            long back = System.currentTimeMillis();
            // The breaker lets probes through 2 s after it opened; then the server answers again. Half-open, it lets
            // only its 3 probe calls through and answers the rest with fallbacks, so rounds go on until three in a
            // row are all the server's (at least one call each): the breaker has closed.
            List<Prediction> servedAgain = List.of();
            int allServed = 0;
            for (int round = 0; round < 30 && allServed < 3; round++) {
                String prefix = "back" + round + "-";
                produce(events, simulate(simulator, "back" + round, 50), produced);
                awaitPredictions(predictionsTopic, produced.size());
                List<Prediction> backRounds = decode(KAFKA.readAllCommitted(predictionsTopic)).stream()
                        .filter(p -> p.getEventId().startsWith("back")).toList();
                servedAgain = backRounds.stream().filter(p -> "remote".equals(p.getServedBy())).toList();
                boolean all = backRounds.stream().filter(p -> p.getEventId().startsWith(prefix))
                        .allMatch(p -> "remote".equals(p.getServedBy()) && !p.getFallback());
                allServed = all ? allServed + 1 : 0;
                if (!all) {
                    Thread.sleep(1_000);
                }
            }
            assertThat(allServed).as("rounds in a row all answered by the server after its return").isEqualTo(3);
            assertThat(servedAgain).as("answers of the server after its return").isNotEmpty();
            assertThat(servedAgain.stream().mapToLong(Prediction::getPredictTimeMillis).min().orElseThrow() - back)
                    .as("ms from the server's return to its first answer").isLessThan(10_000);
            produce(events, simulate(simulator, "after", 600), produced);
            awaitPredictions(predictionsTopic, produced.size());
            Thread.sleep(2_000); // one more checkpoint: nothing may turn up twice
            predictions = decode(KAFKA.readAllCommitted(predictionsTopic));
            assertThat(failovers(miniCluster, job)).as("job restarts").isZero();
        } finally {
            job.cancel().get();
            if (!serverRunning()) {
                server.start();
            }
        }

        List<UserEvent> all = produced;
        Map<String, Long> perEvent = predictions.stream().collect(Collectors.groupingBy(Prediction::getEventId,
                Collectors.counting()));
        assertThat(perEvent.values()).as("predictions per event").allMatch(n -> n == 1);
        assertThat(perEvent.keySet()).containsExactlyInAnyOrderElementsOf(all.stream().map(UserEvent::getEventId).toList());

        Predicate<Prediction> byServer = p -> "remote".equals(p.getServedBy()) && !p.getFallback();
        assertThat(predictions).filteredOn(p -> p.getEventId().startsWith("up-")).as("before the outage")
                .allMatch(byServer);
        assertThat(predictions).filteredOn(p -> p.getEventId().startsWith("after-")).as("after the return")
                .allMatch(byServer);
        List<Prediction> outage = predictions.stream().filter(p -> p.getEventId().startsWith("down-")).toList();
        assertThat(outage).as("during the outage").allSatisfy(p -> {
            assertThat(p.getFallback()).isTrue();
            assertThat(p.getServedBy()).isEqualTo("local");
            assertThat(p.getFallbackReason()).startsWith("remote ");
        });
        assertThat(outage).as("the open breaker answers at once").anyMatch(p -> p.getFallbackReason().contains("circuit breaker open"));
        // Whoever answered, it was the same model: every score is the one a failure-free replay gets.
        assertThat(differentFromAReplay(predictions, all)).isZero();
    }

    @Test
    void aModelUpdateSwitchesTheServersVersionWithoutARestartAndAFileThatIsNotThePublishedOneIsRejected(
            @InjectMiniCluster MiniCluster miniCluster) throws Exception {
        String suffix = "swap-" + UUID.randomUUID().toString().substring(0, 8);
        String events = "events-" + suffix;
        String predictionsTopic = "predictions-" + suffix;
        String profiles = "profiles-" + suffix;
        String modelUpdates = "model-updates-" + suffix;
        String modelEvents = "model-events-" + suffix;
        KAFKA.createTopics(2, events, predictionsTopic, "dead-letters-" + suffix, profiles, modelEvents);
        KAFKA.createTopics(1, modelUpdates);
        produceProfiles(profiles);
        Path v1 = MODELS.resolve("next_event_mlp.pt");
        Path v2 = MODELS.resolve("next_event_mlp_v2.pt");
        server.publish("1.0.0", v1, MODELS.resolve("next_event_mlp.json"));
        ModelUpdate version2 = ModelUpdate.newBuilder().setModelName(CommittedModel.NAME).setVersion("2.0.0")
                .setUri(server.versionUri("2.0.0")).setSha256(ModelArtifacts.sha256Hex(v2)).build();
        // An update naming version 1's checksum for a version whose file on the server is version 2's.
        ModelUpdate notThePublishedFile = ModelUpdate.newBuilder(version2).setVersion("2.0.1")
                .setUri(server.versionUri("2.0.1")).setSha256(ModelArtifacts.sha256Hex(v1)).build();

        ContextInferenceSettings settings = ContextInferenceSettings.fromArgs(
                "--kafka.bootstrap-servers", KAFKA.bootstrapServers(),
                "--topic.events", events, "--topic.predictions", predictionsTopic,
                "--topic.dead-letters", "dead-letters-" + suffix, "--topic.profiles", profiles,
                "--topic.model-updates", modelUpdates, "--topic.model-events", modelEvents,
                "--kafka.group-id", "remote-" + suffix,
                "--delivery", "exactly-once",
                "--checkpoint.interval", "1s",
                "--model.uri", server.versionUri("1.0.0"),
                "--model.fallback-uri", CommittedModel.uri(),
                "--model.remote.timeout", CALL_TIMEOUT);
        StreamExecutionEnvironment env = ContextInferenceJob.createEnvironment(settings);
        env.setParallelism(2);
        ContextInferenceJob.buildPipeline(ContextInferenceJob.kafkaInput(env, settings),
                ContextInferenceJob.modelUpdates(env, settings, ContextInferenceJob.servedModelName(settings,
                        ContextInferenceJob.refuseAModelThatDoesNotFit(settings))),
                ContextInferenceJob.kafkaOutputs(settings), settings);
        JobClient job = env.executeAsync("remote-model-swap-it");
        long publishedAt;
        List<Prediction> predictions;
        List<ModelEvent> modelEventsRead;
        int failovers;
        try (EventPump pump = new EventPump(KAFKA.bootstrapServers(), events, USERS, 3)) {
            pump.runFor(Duration.ofSeconds(4));
            awaitPredictions(predictionsTopic, 1);
            // As model.sh publish: the files into the server's repository, ready there, then the update.
            server.publish("2.0.1", v2, MODELS.resolve("next_event_mlp_v2.json"));
            KAFKA.produce(modelUpdates, List.of(new ProducerRecord<>(modelUpdates, null, avro(notThePublishedFile))));
            pump.runFor(Duration.ofSeconds(2));
            server.publish("2.0.0", v2, MODELS.resolve("next_event_mlp_v2.json"));
            publishedAt = System.currentTimeMillis();
            KAFKA.produce(modelUpdates, List.of(new ProducerRecord<>(modelUpdates, null,
                    avro(ModelUpdate.newBuilder(version2).setPublishedAtMillis(publishedAt).build()))));
            pump.runFor(SWITCHED_WITHIN.plusSeconds(4));
            predictions = decode(KAFKA.readCommitted(predictionsTopic, pump.produced(), Duration.ofSeconds(120)));
            modelEventsRead = decode(KAFKA.readCommitted(modelEvents, 8, Duration.ofSeconds(30)), ModelEvent.class);
            failovers = failovers(miniCluster, job);

            assertThat(failovers).as("job restarts").isZero();
            pump.assertExactlyOnePredictionPerEvent(predictions);
            List<Prediction> late = predictions.stream()
                    .filter(p -> pump.sentAt(p.getEventId()) >= publishedAt + SWITCHED_WITHIN.toMillis()).toList();
            assertThat(late).as("predictions of events sent 10 s after the update").hasSizeGreaterThan(50)
                    .allSatisfy(p -> {
                        assertThat(p.getModelVersion()).isEqualTo("2.0.0");
                        assertThat(p.getServedBy()).isEqualTo("remote");
                        assertThat(p.getFallback()).isFalse();
                    });
            assertThat(predictions).as("version 1.0.0 served by the server before the update")
                    .anyMatch(p -> p.getModelVersion().equals("1.0.0") && "remote".equals(p.getServedBy())
                            && pump.sentAt(p.getEventId()) < publishedAt);
        } finally {
            job.cancel().get();
        }
        assertThat(predictions).as("predictions of the rejected version").noneMatch(p -> p.getModelVersion().equals("2.0.1"));
        assertThat(modelEventsRead).filteredOn(e -> e.getVersion().equals("2.0.1")).hasSize(2).allSatisfy(e -> {
            assertThat(e.getKind()).isEqualTo(ModelEventKind.REJECTED);
            assertThat(e.getReason()).contains("serves a file of SHA-256 " + version2.getSha256(),
                    "expected " + notThePublishedFile.getSha256());
        });
        for (int subtask = 0; subtask < 2; subtask++) {
            int s = subtask;
            assertThat(modelEventsRead).filteredOn(e -> e.getSubtask() == s && e.getVersion().equals("2.0.0"))
                    .extracting(ModelEvent::getKind).containsExactly(ModelEventKind.LOADED, ModelEventKind.ACTIVE);
        }
        long swapMillis = modelEventsRead.stream().filter(e -> e.getKind() == ModelEventKind.ACTIVE
                && e.getVersion().equals("2.0.0")).mapToLong(ModelEvent::getAtMillis).max().orElseThrow() - publishedAt;
        System.out.printf("RemoteInferenceIT: the server's version 2.0.0 active on every subtask %d ms after the update "
                + "was published%n", swapMillis);
    }

    // ---------------------------------------------------------------------------------------------

    /** The profile of every simulated user, as the generator writes them: version 2.0.0 reads them. */
    private static void produceProfiles(String topic) throws Exception {
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        for (int u = 0; u < USERS; u++) {
            String user = UserBehaviourSimulator.userId(u);
            records.add(new ProducerRecord<>(topic, user.getBytes(StandardCharsets.UTF_8),
                    avro(UserBehaviourSimulator.profileOf(user, System.currentTimeMillis()))));
        }
        KAFKA.produce(topic, records);
    }

    private static boolean serverRunning() {
        try (var socket = new java.net.Socket()) {
            socket.connect(new java.net.InetSocketAddress("127.0.0.1",
                    java.net.URI.create(server.baseUrl()).getPort()), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static List<UserEvent> simulate(UserBehaviourSimulator simulator, String prefix, int count) {
        List<UserEvent> events = new ArrayList<>();
        long now = System.currentTimeMillis();
        for (int i = 0; i < count; i++) {
            events.add(simulator.next(prefix + "-" + i, now + i));
        }
        return events;
    }

    /**
     * Writes {@code events} as a trickle, 20 at a time: the server must not be overloaded here, or the breaker's
     * slow-call rule would rightly shed load after its return.
     */
    private static void produce(String topic, List<UserEvent> events, List<UserEvent> produced) throws Exception {
        produced.addAll(events);
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        for (UserEvent e : events) {
            records.add(new ProducerRecord<>(topic, e.getUserId().getBytes(StandardCharsets.UTF_8), avro(e)));
            if (records.size() == 20) {
                KAFKA.produce(topic, records);
                records.clear();
            }
        }
        KAFKA.produce(topic, records);
    }

    private static void awaitPredictions(String topic, int expected) throws IOException {
        assertThat(decode(KAFKA.readCommitted(topic, expected, Duration.ofSeconds(120))).size())
                .as("predictions within 120 s").isGreaterThanOrEqualTo(expected);
    }

    private static int failovers(MiniCluster miniCluster, JobClient job) throws Exception {
        int n = 0;
        for (var ignored : miniCluster.getExecutionGraphInfo(job.getJobID()).get().getExceptionHistory()) {
            n++;
        }
        return n;
    }

    /** Predictions whose scores differ from the committed model's for a straight replay of each user's events. */
    private static long differentFromAReplay(List<Prediction> predictions, List<UserEvent> events) throws Exception {
        Map<String, UserContext> contexts = new HashMap<>();
        Map<String, float[]> features = new HashMap<>();
        for (UserEvent e : events) {
            UserContext context = contexts.computeIfAbsent(e.getUserId(), u -> new UserContext());
            context.add(e);
            features.put(e.getEventId(), FeatureExtractor.extract(context, e));
        }
        long different = 0;
        try (DjlModel model = DjlModel.load(CommittedModel.modelFile(), ModelMetadata.read(CommittedModel.metadataFile()));
             BatchScorer predictor = model.newPredictor()) {
            for (Prediction p : predictions) {
                float[] want = predictor.score(new float[][] {features.get(p.getEventId())})[0];
                for (int k = 0; k < want.length; k++) {
                    if (Math.abs(p.getScores().get(k) - want[k]) > 1e-4f) {
                        different++;
                        break;
                    }
                }
            }
        }
        return different;
    }

    private static List<Prediction> decode(List<ConsumerRecord<byte[], byte[]>> records) throws IOException {
        return decode(records, Prediction.class);
    }

    private static <T extends SpecificRecord> List<T> decode(List<ConsumerRecord<byte[], byte[]>> records, Class<T> type)
            throws IOException {
        SpecificDatumReader<T> reader = new SpecificDatumReader<>(type);
        List<T> out = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : records) {
            out.add(reader.read(null, DecoderFactory.get().binaryDecoder(r.value(), null)));
        }
        return out;
    }
}
