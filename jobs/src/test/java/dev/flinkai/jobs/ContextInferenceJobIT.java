package dev.flinkai.jobs;

import dev.flinkai.jobs.testing.S3TestServer;
import dev.flinkai.operators.context.UserContext;
import dev.flinkai.operators.features.FeatureExtractor;
import dev.flinkai.operators.inference.ModelMetadata;
import dev.flinkai.operators.inference.djl.BatchScorer;
import dev.flinkai.operators.inference.djl.DjlModel;
import dev.flinkai.operators.ingest.ReceivedRecord;
import dev.flinkai.operators.simulation.UserBehaviourSimulator;
import dev.flinkai.operators.testing.CommittedModel;
import dev.flinkai.operators.testing.KafkaTestBroker;
import dev.flinkai.schemas.DeadLetter;
import dev.flinkai.schemas.Prediction;
import dev.flinkai.schemas.UserEvent;

import org.apache.avro.io.DecoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.state.CheckpointListener;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.test.junit5.InjectMiniCluster;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.types.Row;
import org.apache.flink.util.CloseableIterator;
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
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.stream.Collectors;

import static dev.flinkai.operators.testing.AvroTestRecords.avro;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The main job end to end on real parts: an in-JVM Kafka broker, an S3 API server holding the model and the
 * checkpoints, RocksDB, the committed TorchScript model in DJL, on a Flink MiniCluster.
 */
class ContextInferenceJobIT {

    private static final int EVENTS = 3_000;
    private static final int USERS = 200;
    private static final Path MODEL = CommittedModel.modelFile();

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(2)
            .build());

    @RegisterExtension
    static final KafkaTestBroker KAFKA = new KafkaTestBroker();

    private static S3TestServer s3;

    @BeforeAll
    static void startServices() throws Exception {
        s3 = new S3TestServer();
        s3.createBucket("flink");
        s3.createBucket("models");
        s3.upload("models", "next-event/next_event_mlp.pt", MODEL);
        s3.upload("models", "next-event/next_event_mlp.json", MODEL.resolveSibling("next_event_mlp.json"));
    }

    @AfterAll
    static void stopServices() throws Exception {
        if (s3 != null) {
            s3.close();
        }
    }

    @Test
    void exactlyOnceGivesOnePredictionPerEventAndCheckpointsToS3(@InjectMiniCluster MiniCluster miniCluster) throws Exception {
        Topics topics = Topics.create("eo");
        List<UserEvent> events = simulatedEvents(EVENTS, USERS, 1);
        KAFKA.produce(topics.events, encode(topics.events, events));

        JobClient job = startJob(topics, "eo", Function.identity());
        List<Prediction> predictions = awaitPredictions(topics, EVENTS);
        // Keep running through one more checkpoint: nothing may appear twice once more transactions commit.
        awaitCompletedCheckpoints(miniCluster, job.getJobID(), 2);
        predictions = decode(KAFKA.readAllCommitted(topics.predictions), Prediction.class);
        List<String> checkpointFiles = s3.list("flink", "checkpoints/eo/");
        job.cancel().get();

        assertExactlyOnePredictionPerEvent(predictions, events);
        assertScoresOfAnUninterruptedReplay(predictions, events);
        assertThat(predictions).allSatisfy(p -> {
            assertThat(p.getModelVersion()).isNotBlank();
            assertThat(p.getScores()).hasSize(4);
        });
        assertThat(predictions).filteredOn(Prediction::getFallback).as("fallbacks").hasSizeLessThan(EVENTS / 100);
        assertThat(checkpointFiles).as("checkpoint files in the bucket")
                .anyMatch(key -> key.contains("/chk-") && key.endsWith("_metadata"));
    }

    @Test
    void failureAfterACompletedCheckpointLosesAndDuplicatesNothing(@InjectMiniCluster MiniCluster miniCluster) throws Exception {
        Topics topics = Topics.create("failover");
        List<UserEvent> events = simulatedEvents(EVENTS, USERS, 2);
        List<UserEvent> firstHalf = events.subList(0, EVENTS / 2);
        List<UserEvent> secondHalf = events.subList(EVENTS / 2, EVENTS);
        KAFKA.produce(topics.events, encode(topics.events, firstHalf));
        FailOnceAfterCheckpoint.reset();

        // ~100 users per subtask, 20 cached: contexts are written back both on eviction and at the barriers.
        JobClient job = startJob(topics, "failover", input -> input.map(new FailOnceAfterCheckpoint())
                .uid("test-failure-injector").name("Fail once after a checkpoint"), "--state.cached-users", "20");
        // The failure fires once records keep flowing after a completed checkpoint: produce the rest now.
        assertThat(waitUntilArmed()).as("a checkpoint completed after records passed").isTrue();
        KAFKA.produce(topics.events, encode(topics.events, secondHalf));

        List<Prediction> predictions = awaitPredictions(topics, EVENTS);
        awaitCompletedCheckpoints(miniCluster, job.getJobID(), 3);
        predictions = decode(KAFKA.readAllCommitted(topics.predictions), Prediction.class);
        int failovers = failoversOf(miniCluster, job.getJobID());
        job.cancel().get();

        assertThat(FailOnceAfterCheckpoint.FAILED.get()).as("the injected failure happened").isTrue();
        assertThat(failovers).as("failovers in the job's exception history").isEqualTo(1);
        assertExactlyOnePredictionPerEvent(predictions, events);
        // The user contexts came back from the checkpoint exactly as they were, cached updates included.
        assertScoresOfAnUninterruptedReplay(predictions, events);
    }

    @Test
    void malformedAndInvalidRecordsGoToDeadLettersWithoutRestart(@InjectMiniCluster MiniCluster miniCluster) throws Exception {
        Topics topics = Topics.create("dlq");
        List<UserEvent> events = simulatedEvents(500, 50, 3);
        List<ProducerRecord<byte[], byte[]>> records = encode(topics.events, events);
        byte[] garbage = "definitely not avro {\"userId\": 42}".getBytes(StandardCharsets.UTF_8);
        UserEvent invalid = UserEvent.newBuilder(events.get(0)).setEventId("bad-rating").setRating(9).build();
        records.add(100, new ProducerRecord<>(topics.events, 0, null, garbage));
        records.add(200, new ProducerRecord<>(topics.events, 0, null, avro(invalid)));
        records.add(300, new ProducerRecord<>(topics.events, 0, null, new byte[0]));
        KAFKA.produce(topics.events, records);

        JobClient job = startJob(topics, "dlq", Function.identity());
        List<Prediction> predictions = awaitPredictions(topics, events.size());
        List<DeadLetter> deadLetters = decode(KAFKA.readCommitted(topics.deadLetters, 3, Duration.ofSeconds(60)), DeadLetter.class);
        int failovers = failoversOf(miniCluster, job.getJobID());
        job.cancel().get();

        assertThat(failovers).as("failovers").isZero();
        assertExactlyOnePredictionPerEvent(predictions, events);
        assertThat(deadLetters).hasSize(3);
        Map<Long, DeadLetter> byOffset = deadLetters.stream()
                .collect(Collectors.toMap(DeadLetter::getSourceOffset, d -> d));
        assertThat(byOffset).containsOnlyKeys(100L, 200L, 300L);
        assertThat(byOffset.get(100L).getReason()).startsWith("not a UserEvent");
        assertThat(byOffset.get(100L).getPayload().array()).isEqualTo(garbage);
        assertThat(byOffset.get(200L).getReason()).contains("rating must be 1..5");
        assertThat(byOffset.get(300L).getReason()).isEqualTo("empty record value");
        assertThat(deadLetters).allSatisfy(d -> {
            assertThat(d.getSourceTopic()).isEqualTo(topics.events);
            assertThat(d.getSourcePartition()).isZero();
        });
    }

    /**
     * SQL users score the same events as the job: USER_CONTEXT and ML_PREDICT with the flinkai provider, over the
     * same topic, give each event the job's probabilities (to 1e-5) from the same model file in S3.
     */
    @Test
    void theSqlPathScoresEveryEventAsTheJobDoes() throws Exception {
        Topics topics = Topics.create("sql");
        List<UserEvent> events = simulatedEvents(1_000, 100, 4);
        KAFKA.produce(topics.events, encode(topics.events, events));
        JobClient job = startJob(topics, "sql", Function.identity());
        Map<String, Prediction> byJob = awaitPredictions(topics, events.size()).stream()
                .collect(Collectors.toMap(Prediction::getEventId, p -> p));
        job.cancel().get();

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(2);
        StreamTableEnvironment tEnv = StreamTableEnvironment.create(env);
        tEnv.executeSql("CREATE TEMPORARY TABLE events (eventId STRING, userId STRING, sessionId STRING, "
                + "eventType STRING, eventTimeMillis BIGINT, priority INT, feature STRING, latencyMillis INT, "
                + "inputTokens INT, outputTokens INT, success BOOLEAN, rating INT) WITH ('connector' = 'kafka', "
                + "'topic' = '" + topics.events + "', 'properties.bootstrap.servers' = '" + KAFKA.bootstrapServers()
                + "', 'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', "
                + "'format' = 'flinkai-avro', 'flinkai-avro.record' = 'UserEvent')");
        tEnv.executeSql("CREATE TEMPORARY FUNCTION USER_CONTEXT AS 'dev.flinkai.udfs.context.UserContextFunction'");
        tEnv.executeSql("CREATE TEMPORARY MODEL next_event INPUT (features ARRAY<FLOAT>) "
                + "OUTPUT (probabilities ARRAY<FLOAT>, model_version STRING, fallback BOOLEAN) WITH ("
                + "'provider' = 'flinkai', 'uri' = 's3://models/next-event/next_event_mlp.pt', "
                + "'s3.endpoint' = '" + s3.endpoint() + "', 's3.access-key' = '" + S3TestServer.ACCESS_KEY + "', "
                + "'s3.secret-key' = '" + S3TestServer.SECRET_KEY + "')");
        tEnv.executeSql("CREATE TEMPORARY VIEW event_features AS SELECT eventId, features FROM USER_CONTEXT("
                + "input => TABLE events PARTITION BY userId, uid => 'user-context')");
        Map<String, Row> bySql = new HashMap<>();
        try (CloseableIterator<Row> rows = tEnv.executeSql("SELECT eventId, probabilities, model_version, fallback "
                + "FROM ML_PREDICT(TABLE event_features, MODEL next_event, DESCRIPTOR(features))").collect()) {
            rows.forEachRemaining(r -> bySql.put(r.getFieldAs("eventId"), r));
        }

        assertThat(bySql).as("SQL predictions by event id").hasSize(events.size()).containsOnlyKeys(byJob.keySet());
        List<String> different = new ArrayList<>();
        int compared = 0;
        for (Map.Entry<String, Row> e : bySql.entrySet()) {
            Prediction p = byJob.get(e.getKey());
            Row row = e.getValue();
            assertThat(row.<Boolean>getFieldAs("fallback")).as("SQL fallback for %s", e.getKey()).isFalse();
            assertThat(row.<String>getFieldAs("model_version")).isEqualTo(p.getModelVersion());
            if (p.getFallback()) {
                continue;
            }
            compared++;
            Float[] sql = row.getFieldAs("probabilities");
            for (int k = 0; k < sql.length; k++) {
                if (Math.abs(sql[k] - p.getScores().get(k)) > 1e-5f) {
                    different.add(e.getKey() + ": SQL " + Arrays.toString(sql) + ", job " + p.getScores());
                    break;
                }
            }
        }
        assertThat(compared).as("events the job's model answered").isGreaterThan(events.size() * 99 / 100);
        assertThat(different).as("events scored differently by SQL and the job").isEmpty();
    }

    // ---------------------------------------------------------------------------------------------

    private record Topics(String events, String predictions, String deadLetters, String profiles,
                          String modelUpdates, String modelEvents) {
        static Topics create(String name) throws Exception {
            String suffix = name + "-" + UUID.randomUUID().toString().substring(0, 8);
            Topics t = new Topics("events-" + suffix, "predictions-" + suffix, "dead-letters-" + suffix,
                    "profiles-" + suffix, "model-updates-" + suffix, "model-events-" + suffix);
            KAFKA.createTopics(1, t.events, t.profiles, t.modelUpdates);
            KAFKA.createTopics(2, t.predictions, t.deadLetters, t.modelEvents);
            return t;
        }
    }

    private static JobClient startJob(Topics topics, String checkpointPrefix,
                                      Function<DataStream<ReceivedRecord>, DataStream<ReceivedRecord>> beforePipeline,
                                      String... moreArgs) throws Exception {
        List<String> args = new ArrayList<>(List.of(
                "--kafka.bootstrap-servers", KAFKA.bootstrapServers(),
                "--topic.events", topics.events,
                "--topic.predictions", topics.predictions,
                "--topic.dead-letters", topics.deadLetters,
                "--topic.profiles", topics.profiles,
                "--topic.model-updates", topics.modelUpdates,
                "--topic.model-events", topics.modelEvents,
                "--kafka.group-id", "it-" + checkpointPrefix,
                "--delivery", "exactly-once",
                "--checkpoint.interval", "1s",
                "--checkpoint.dir", "s3://flink/checkpoints/" + checkpointPrefix,
                "--model.uri", "s3://models/next-event/next_event_mlp.pt",
                "--s3.endpoint", s3.endpoint(),
                "--s3.access-key", S3TestServer.ACCESS_KEY,
                "--s3.secret-key", S3TestServer.SECRET_KEY));
        args.addAll(List.of(moreArgs));
        ContextInferenceSettings settings = ContextInferenceSettings.fromArgs(args.toArray(String[]::new));
        StreamExecutionEnvironment env = ContextInferenceJob.createEnvironment(settings);
        env.setParallelism(2);
        ContextInferenceJob.buildPipeline(beforePipeline.apply(ContextInferenceJob.kafkaInput(env, settings)),
                ContextInferenceJob.modelUpdates(env, settings, CommittedModel.NAME),
                ContextInferenceJob.kafkaOutputs(settings), settings);
        return env.executeAsync("context-inference-it-" + checkpointPrefix);
    }

    private static List<Prediction> awaitPredictions(Topics topics, int expected) throws IOException {
        List<Prediction> predictions = decode(KAFKA.readCommitted(topics.predictions, expected, Duration.ofSeconds(120)), Prediction.class);
        assertThat(predictions.size()).as("predictions within 120 s").isGreaterThanOrEqualTo(expected);
        return predictions;
    }

    private static void assertExactlyOnePredictionPerEvent(List<Prediction> predictions, List<UserEvent> events) {
        Map<String, Long> perEvent = predictions.stream()
                .collect(Collectors.groupingBy(Prediction::getEventId, Collectors.counting()));
        List<String> duplicated = perEvent.entrySet().stream().filter(e -> e.getValue() > 1).map(Map.Entry::getKey).toList();
        List<String> missing = events.stream().map(UserEvent::getEventId).filter(id -> !perEvent.containsKey(id)).toList();
        assertThat(duplicated).as("event ids with more than one prediction").isEmpty();
        assertThat(missing).as("event ids without a prediction").isEmpty();
        assertThat(predictions.size()).as("predictions").isEqualTo(events.size());
        Map<String, String> userOfEvent = events.stream().collect(Collectors.toMap(UserEvent::getEventId, UserEvent::getUserId));
        assertThat(predictions).allSatisfy(p -> assertThat(p.getUserId()).isEqualTo(userOfEvent.get(p.getEventId())));
    }

    /**
     * Every model answer equals the model's scores for the features of a straight, failure-free replay of each user's
     * events (the events of a user share a partition, so the job sees them in this order).
     */
    private static void assertScoresOfAnUninterruptedReplay(List<Prediction> predictions, List<UserEvent> events)
            throws Exception {
        Map<String, UserContext> contexts = new HashMap<>();
        float[][] rows = new float[events.size()][];
        Map<String, Integer> indexOfEvent = new HashMap<>();
        for (int i = 0; i < events.size(); i++) {
            UserEvent e = events.get(i);
            UserContext context = contexts.computeIfAbsent(e.getUserId(), u -> new UserContext());
            context.add(e);
            rows[i] = FeatureExtractor.extract(context, e);
            indexOfEvent.put(e.getEventId(), i);
        }
        float[][] expected;
        try (DjlModel scorer = DjlModel.load(MODEL, ModelMetadata.read(MODEL.resolveSibling("next_event_mlp.json")));
             BatchScorer predictor = scorer.newPredictor()) {
            expected = predictor.score(rows);
        }
        List<String> different = new ArrayList<>();
        for (Prediction p : predictions) {
            float[] want = expected[indexOfEvent.get(p.getEventId())];
            for (int k = 0; k < want.length && !p.getFallback(); k++) {
                if (Math.abs(p.getScores().get(k) - want[k]) > 1e-4f) {
                    different.add(p.getEventId() + ": " + p.getScores() + " instead of " + Arrays.toString(want));
                    break;
                }
            }
        }
        assertThat(different).as("model answers that differ from a failure-free replay").isEmpty();
    }

    private static void awaitCompletedCheckpoints(MiniCluster miniCluster, JobID job, int atLeast) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            var stats = miniCluster.getExecutionGraph(job).get().getCheckpointStatsSnapshot();
            if (stats != null && stats.getCounts().getNumberOfCompletedCheckpoints() >= atLeast) {
                return;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("fewer than " + atLeast + " checkpoints completed within 60 s");
    }

    private static int failoversOf(MiniCluster miniCluster, JobID job) throws Exception {
        int n = 0;
        for (var ignored : miniCluster.getExecutionGraphInfo(job).get().getExceptionHistory()) {
            n++;
        }
        return n;
    }

    private static boolean waitUntilArmed() throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            if (FailOnceAfterCheckpoint.ARMED_AFTER_CHECKPOINT.get() >= 0) {
                return true;
            }
            Thread.sleep(100);
        }
        return false;
    }

    static List<UserEvent> simulatedEvents(int count, int users, long seed) {
        UserBehaviourSimulator simulator = new UserBehaviourSimulator(seed, users, 0.8, 0, 1);
        long start = System.currentTimeMillis() - count;
        List<UserEvent> events = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            events.add(simulator.next("it-" + seed + "-" + i, start + i));
        }
        return events;
    }

    private static List<ProducerRecord<byte[], byte[]>> encode(String topic, List<UserEvent> events) throws IOException {
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        for (UserEvent e : events) {
            records.add(new ProducerRecord<>(topic, e.getUserId().getBytes(StandardCharsets.UTF_8), avro(e)));
        }
        return records;
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

    /**
     * Throws once, some records after a checkpoint completed: their predictions are already in an open Kafka
     * transaction, which must be aborted, and the records replayed from the checkpoint's offsets.
     */
    static final class FailOnceAfterCheckpoint extends RichMapFunction<ReceivedRecord, ReceivedRecord>
            implements CheckpointListener {
        static final AtomicLong ARMED_AFTER_CHECKPOINT = new AtomicLong(-1);
        static final AtomicBoolean FAILED = new AtomicBoolean();
        static final AtomicLong RECORDS_SINCE_ARMED = new AtomicLong();
        private static final long FAIL_AFTER_RECORDS = 200;
        private long recordsSinceStart;

        static void reset() {
            ARMED_AFTER_CHECKPOINT.set(-1);
            FAILED.set(false);
            RECORDS_SINCE_ARMED.set(0);
        }

        @Override
        public void open(OpenContext openContext) {
            recordsSinceStart = 0;
        }

        @Override
        public ReceivedRecord map(ReceivedRecord record) {
            recordsSinceStart++;
            if (ARMED_AFTER_CHECKPOINT.get() >= 0 && !FAILED.get()
                    && RECORDS_SINCE_ARMED.incrementAndGet() >= FAIL_AFTER_RECORDS) {
                FAILED.set(true);
                throw new IllegalStateException("Injected failure after checkpoint " + ARMED_AFTER_CHECKPOINT.get());
            }
            return record;
        }

        @Override
        public void notifyCheckpointComplete(long checkpointId) {
            if (recordsSinceStart > 0) {
                ARMED_AFTER_CHECKPOINT.compareAndSet(-1, checkpointId);
            }
        }
    }
}
