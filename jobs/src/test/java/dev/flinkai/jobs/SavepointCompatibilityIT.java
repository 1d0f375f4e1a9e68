package dev.flinkai.jobs;

import dev.flinkai.operators.context.UserContext;
import dev.flinkai.operators.context.UserContextOperator;
import dev.flinkai.operators.features.FeatureExtractor;
import dev.flinkai.operators.inference.ModelMetadata;
import dev.flinkai.operators.inference.djl.BatchScorer;
import dev.flinkai.operators.inference.djl.DjlModel;
import dev.flinkai.operators.simulation.UserBehaviourSimulator;
import dev.flinkai.operators.testing.CommittedModel;
import dev.flinkai.operators.testing.KafkaTestBroker;
import dev.flinkai.schemas.Prediction;
import dev.flinkai.schemas.UserEvent;

import org.apache.avro.io.DecoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.StateRecoveryOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.state.api.OperatorIdentifier;
import org.apache.flink.state.api.SavepointReader;
import org.apache.flink.state.api.functions.KeyedStateReaderFunction;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.flinkai.operators.testing.AvroTestRecords.avro;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The savepoint of an earlier release (committed under {@code src/test/resources/savepoints/}, with the events its job
 * read) restores into today's job: the same uids, state names and serializers, or serializers that migrate. Its user
 * contexts are read back and compared with a replay of those events, and the job resumed from it scores new events
 * from the restored contexts. Later releases add their savepoint here and keep restoring all of them.
 *
 * <p>State TTL runs on processing time, and the committed savepoint only grows older: both the reader and the resumed
 * job use a TTL of ten years, so the contexts count as live whenever the test runs (the TTL's length is not part of
 * the savepoint, only the timestamps are).
 */
class SavepointCompatibilityIT {

    private static final String RELEASE = "b7b4836";
    private static final String TTL = "3650d";

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(2)
            .build());

    @RegisterExtension
    static final KafkaTestBroker KAFKA = new KafkaTestBroker();

    @Test
    void theRestoredContextsAreAReplayOfTheEventsThatMadeThem(@TempDir Path dir) throws Exception {
        Path savepoint = copySavepoint(dir);
        Map<String, UserContext> expected = replay(eventsOf(readLog()), new HashMap<>(), null);

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        List<Map.Entry<String, UserContext>> restored = new ArrayList<>();
        SavepointReader.read(env, savepoint.toUri().toString(), new EmbeddedRocksDBStateBackend())
                .readKeyedState(OperatorIdentifier.forUid(PipelineOperator.USER_CONTEXT.uid), new ContextReader())
                .executeAndCollect().forEachRemaining(restored::add);

        Map<String, UserContext> byUser = new HashMap<>();
        restored.forEach(e -> byUser.put(e.getKey(), e.getValue()));
        assertThat(restored).as("one context per user").hasSize(byUser.size());
        assertThat(byUser.keySet()).containsExactlyInAnyOrderElementsOf(expected.keySet());
        for (Map.Entry<String, UserContext> e : expected.entrySet()) {
            assertThat(byUser.get(e.getKey())).as("context of %s", e.getKey()).isEqualTo(e.getValue());
        }
    }

    @Test
    void theJobResumedFromItScoresNewEventsFromTheRestoredContexts(@TempDir Path dir) throws Exception {
        Path savepoint = copySavepoint(dir);
        KAFKA.createTopics(4, "user-events");
        KAFKA.createTopics(2, "predictions", "dead-letters", "model-events");
        KAFKA.createTopics(1, "user-profiles", "model-updates");
        // The log as the job read it, at the same offsets: the savepoint's source resumes right after it.
        List<LoggedRecord> log = readLog();
        List<ProducerRecord<byte[], byte[]>> replayed = new ArrayList<>();
        for (LoggedRecord r : log) {
            replayed.add(new ProducerRecord<>("user-events", r.partition, r.timestamp, r.key, r.value));
        }
        KAFKA.produce("user-events", replayed);
        List<UserEvent> before = eventsOf(log);
        List<UserEvent> after = newEventsOfTheSameUsers(600);
        List<ProducerRecord<byte[], byte[]>> fresh = new ArrayList<>();
        for (UserEvent e : after) {
            fresh.add(new ProducerRecord<>("user-events", e.getUserId().getBytes(StandardCharsets.UTF_8), avro(e)));
        }
        KAFKA.produce("user-events", fresh);

        ContextInferenceSettings settings = ContextInferenceSettings.fromArgs(
                "--kafka.bootstrap-servers", KAFKA.bootstrapServers(),
                "--model.uri", CommittedModel.uri(),
                "--checkpoint.interval", "1s",
                "--checkpoint.dir", dir.resolve("checkpoints").toUri().toString(),
                "--state.ttl", TTL);
        StreamExecutionEnvironment env = ContextInferenceJob.createEnvironment(settings);
        Configuration restore = new Configuration();
        restore.set(StateRecoveryOptions.SAVEPOINT_PATH, savepoint.toUri().toString());
        env.configure(restore);
        env.setParallelism(2); // the savepoint was taken at parallelism 1: its keyed state is redistributed
        ContextInferenceJob.buildPipeline(ContextInferenceJob.kafkaInput(env, settings),
                ContextInferenceJob.modelUpdates(env, settings, CommittedModel.NAME),
                ContextInferenceJob.kafkaOutputs(settings), settings);
        JobClient job = env.executeAsync("restore-" + RELEASE);
        List<Prediction> predictions;
        try {
            predictions = decode(KAFKA.readCommitted("predictions", after.size(), Duration.ofSeconds(120)));
            Thread.sleep(3_000); // one more checkpoint: nothing else may turn up
            predictions = decode(KAFKA.readAllCommitted("predictions"));
        } finally {
            job.cancel().get();
        }

        assertThat(predictions).extracting(Prediction::getEventId).as("exactly the new events, once each")
                .containsExactlyInAnyOrderElementsOf(after.stream().map(UserEvent::getEventId).toList());
        Map<String, float[]> features = new HashMap<>();
        Map<String, UserContext> contexts = replay(before, new HashMap<>(), null);
        replay(after, contexts, features);
        Map<String, float[]> expected = score(features);
        Map<String, UserContext> withoutHistory = replay(after, new HashMap<>(), null);
        int differ = 0;
        int fromHistory = 0;
        for (Prediction p : predictions) {
            float[] want = expected.get(p.getEventId());
            assertThat(p.getFallback()).as("fallback of %s", p.getEventId()).isFalse();
            for (int k = 0; k < want.length; k++) {
                if (Math.abs(p.getScores().get(k) - want[k]) > 1e-4f) {
                    differ++;
                    break;
                }
            }
        }
        for (Map.Entry<String, UserContext> e : withoutHistory.entrySet()) {
            if (e.getValue().totalEvents() < contexts.get(e.getKey()).totalEvents()) {
                fromHistory++;
            }
        }
        assertThat(differ).as("predictions that differ from a replay of the savepoint's events and the new ones").isZero();
        assertThat(fromHistory).as("users of the new events with history in the savepoint").isEqualTo(withoutHistory.size());
    }

    // ---------------------------------------------------------------------------------------------

    /** Reads the user contexts as the job's operator keeps them (same descriptor, so same serializer and TTL). */
    static final class ContextReader extends KeyedStateReaderFunction<String, Map.Entry<String, UserContext>> {
        private transient ValueState<UserContext> context;

        @Override
        public void open(org.apache.flink.api.common.functions.OpenContext openContext) {
            context = getRuntimeContext().getState(
                    UserContextOperator.stateDescriptor(org.apache.flink.util.TimeUtils.parseDuration(TTL)));
        }

        @Override
        public void readKey(String user, Context ctx, Collector<Map.Entry<String, UserContext>> out) throws Exception {
            out.collect(Map.entry(user, context.value()));
        }
    }

    private record LoggedRecord(int partition, long offset, long timestamp, byte[] key, byte[] value) {}

    private static List<LoggedRecord> readLog() throws IOException {
        List<LoggedRecord> log = new ArrayList<>();
        try (InputStream in = SavepointCompatibilityIT.class.getResourceAsStream(
                "/savepoints/" + RELEASE + "/user-events.tsv")) {
            Base64.Decoder base64 = Base64.getDecoder();
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                String[] f = line.split("\t");
                log.add(new LoggedRecord(Integer.parseInt(f[0]), Long.parseLong(f[1]), Long.parseLong(f[2]),
                        base64.decode(f[3]), base64.decode(f[4])));
            }
        }
        return log;
    }

    /** In partition and offset order: each user's events in the order the job saw them. */
    private static List<UserEvent> eventsOf(List<LoggedRecord> log) throws IOException {
        SpecificDatumReader<UserEvent> reader = new SpecificDatumReader<>(UserEvent.class);
        List<UserEvent> events = new ArrayList<>();
        for (LoggedRecord r : log) {
            events.add(reader.read(null, DecoderFactory.get().binaryDecoder(r.value, null)));
        }
        return events;
    }

    /** Folds {@code events} into {@code contexts}; with {@code features}, records each event's features. */
    private static Map<String, UserContext> replay(List<UserEvent> events, Map<String, UserContext> contexts,
                                                   Map<String, float[]> features) {
        for (UserEvent e : events) {
            UserContext context = contexts.computeIfAbsent(e.getUserId(), u -> new UserContext());
            context.add(e);
            if (features != null) {
                features.put(e.getEventId(), FeatureExtractor.extract(context, e));
            }
        }
        return contexts;
    }

    private static Map<String, float[]> score(Map<String, float[]> features) throws Exception {
        List<String> ids = new ArrayList<>(features.keySet());
        float[][] rows = new float[ids.size()][];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = features.get(ids.get(i));
        }
        Map<String, float[]> scores = new LinkedHashMap<>();
        try (DjlModel model = DjlModel.load(CommittedModel.modelFile(), ModelMetadata.read(CommittedModel.metadataFile()));
             BatchScorer predictor = model.newPredictor()) {
            float[][] out = predictor.score(rows);
            for (int i = 0; i < rows.length; i++) {
                scores.put(ids.get(i), out[i]);
            }
        }
        return scores;
    }

    /** Simulated events of the savepoint's users ({@code user-0} .. {@code user-149}), after its events in time. */
    private static List<UserEvent> newEventsOfTheSameUsers(int count) {
        UserBehaviourSimulator simulator = new UserBehaviourSimulator(99, 150, 0.8, 0, 1);
        long start = System.currentTimeMillis();
        List<UserEvent> events = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            events.add(simulator.next("after-" + i, start + i));
        }
        return events;
    }

    private static Path copySavepoint(Path dir) throws IOException {
        Path savepoint = Files.createDirectories(dir.resolve("savepoint-" + RELEASE));
        try (InputStream in = SavepointCompatibilityIT.class.getResourceAsStream("/savepoints/" + RELEASE + "/_metadata")) {
            Files.write(savepoint.resolve("_metadata"), in.readAllBytes());
        }
        return savepoint;
    }

    private static List<Prediction> decode(List<ConsumerRecord<byte[], byte[]>> records) throws IOException {
        SpecificDatumReader<Prediction> reader = new SpecificDatumReader<>(Prediction.class);
        List<Prediction> out = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : records) {
            out.add(reader.read(null, DecoderFactory.get().binaryDecoder(r.value(), null)));
        }
        return out;
    }
}
