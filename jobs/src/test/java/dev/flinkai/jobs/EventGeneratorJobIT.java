package dev.flinkai.jobs;

import dev.flinkai.jobs.kafka.KafkaAccess;
import dev.flinkai.operators.config.Settings;
import dev.flinkai.operators.simulation.UserBehaviourSimulator;
import dev.flinkai.operators.testing.KafkaTestBroker;
import dev.flinkai.schemas.UserEvent;

import org.apache.avro.io.DecoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.state.CheckpointListener;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.StateRecoveryOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.InjectMiniCluster;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The generator keeps its word that event ids are unique: killed after a checkpoint while it writes, it writes each
 * event id once for read_committed readers, and the events are those a failure-free run would have written.
 */
class EventGeneratorJobIT {

    private static final int EVENTS = 20_000;
    private static final int USERS = 500;
    private static final long SEED = 7;
    private static final String RUN_ID = "it";

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(2)
            .build());

    @RegisterExtension
    static final KafkaTestBroker KAFKA = new KafkaTestBroker();

    @Test
    void aGeneratorKilledAfterACheckpointWritesEachEventIdOnceAsAFailureFreeRunWould(
            @InjectMiniCluster MiniCluster miniCluster) throws Exception {
        String topic = "generated-" + UUID.randomUUID().toString().substring(0, 8);
        KAFKA.createTopics(2, topic);
        awaitTopic(topic);
        Settings s = EventGeneratorJob.settings(new String[] {
                "--kafka.bootstrap-servers", KAFKA.bootstrapServers(), "--topic.events", topic,
                "--rate", "5000", "--users", Integer.toString(USERS), "--count", Integer.toString(EVENTS),
                "--seed", Long.toString(SEED), "--run-id", RUN_ID, "--profiles", "false",
                "--checkpoint.interval", "500ms"}, new Configuration(), Map.of());
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(2);
        EventGeneratorJob.configure(env, s);
        Configuration restarts = new Configuration();
        restarts.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
        restarts.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 2);
        restarts.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ofMillis(200));
        env.configure(restarts);
        FailOnceAfterCheckpoint.reset();
        EventGeneratorJob.simulatedEvents(env, s, RUN_ID, System.currentTimeMillis())
                .map(new FailOnceAfterCheckpoint()).uid("test-failure-injector").name("Fail once after a checkpoint")
                .sinkTo(EventGeneratorJob.eventSink(KafkaAccess.plaintext(KAFKA.bootstrapServers()), s));

        JobClient job = env.executeAsync("event-generator-it");
        job.getJobExecutionResult().get(120, TimeUnit.SECONDS);
        int failovers = 0;
        for (var ignored : miniCluster.getExecutionGraphInfo(job.getJobID()).get().getExceptionHistory()) {
            failovers++;
        }
        List<UserEvent> committed = decode(KAFKA.readAllCommitted(topic));
        List<UserEvent> everything = decode(readUncommitted(topic));

        assertThat(FailOnceAfterCheckpoint.FAILED.get()).as("the injected failure happened").isTrue();
        assertThat(failovers).as("failovers").isEqualTo(1);
        assertThat(everything.size() - committed.size())
                .as("events the failed attempt wrote after its last checkpoint (aborted)").isPositive();

        Map<String, List<UserEvent>> byId = new HashMap<>();
        committed.forEach(e -> byId.computeIfAbsent(e.getEventId(), id -> new ArrayList<>()).add(e));
        List<String> twice = byId.entrySet().stream().filter(e -> e.getValue().size() > 1)
                .map(e -> e.getKey() + ": " + e.getValue()).toList();
        assertThat(twice).as("event ids written more than once (read_committed)").isEmpty();
        assertThat(committed).as("committed events").hasSize(EVENTS);
        // A read_uncommitted reader also sees the aborted attempt's events: made again from the restored simulators,
        // they differ from their committed namesakes in their event time (the wall clock's) only.
        Map<String, UserEvent> committedById = new HashMap<>();
        committed.forEach(e -> committedById.put(e.getEventId(), e));
        List<String> abortedUnlike = new ArrayList<>();
        for (UserEvent e : everything) {
            UserEvent c = committedById.get(e.getEventId());
            if (c == null || !UserEvent.newBuilder(e).setEventTimeMillis(c.getEventTimeMillis()).build().equals(c)) {
                abortedUnlike.add(e + " vs committed " + c);
            }
        }
        assertThat(abortedUnlike).as("uncommitted events unlike the committed one of their id").isEmpty();

        // The simulators came back with their state: per subtask (its share of the users), in sequence order, the
        // events are exactly those of a simulator that never failed (the event time is the wall clock's).
        for (int partition = 0; partition < 2; partition++) {
            int p = partition;
            List<UserEvent> ofPartition = committed.stream()
                    .filter(e -> Long.parseLong(e.getUserId().substring("user-".length())) % 2 == p)
                    .sorted(Comparator.comparingLong(EventGeneratorJobIT::sequenceNumber)).toList();
            UserBehaviourSimulator failureFree = new UserBehaviourSimulator(SEED, USERS, 0.8, partition, 2);
            List<String> different = new ArrayList<>();
            for (UserEvent e : ofPartition) {
                UserEvent want = failureFree.next(e.getEventId(), e.getEventTimeMillis());
                if (!want.equals(e) && different.size() < 5) {
                    different.add(e + " instead of " + want);
                }
            }
            assertThat(different).as("events of subtask %d unlike a failure-free run's", partition).isEmpty();
        }
    }

    /**
     * Stopped with a savepoint at parallelism 2 and resumed from it at 1: every event id once, none lost, and each user
     * goes on in their session (a user's session numbers never go back, as they would with users started afresh).
     */
    @Test
    void resumedAtAnotherParallelismItGoesOnWithTheSameUsersAndWritesEachIdOnce(@TempDir Path savepoints)
            throws Exception {
        String topic = "rescaled-" + UUID.randomUUID().toString().substring(0, 8);
        KAFKA.createTopics(2, topic);
        awaitTopic(topic);
        Settings s = EventGeneratorJob.settings(new String[] {
                "--kafka.bootstrap-servers", KAFKA.bootstrapServers(), "--topic.events", topic,
                "--rate", "4000", "--users", Integer.toString(USERS), "--count", Integer.toString(EVENTS),
                "--seed", Long.toString(SEED), "--run-id", RUN_ID, "--profiles", "false",
                "--checkpoint.interval", "500ms"}, new Configuration(), Map.of());

        JobClient first = startGenerator(s, 2, null);
        assertThat(KAFKA.readCommitted(topic, EVENTS / 4, Duration.ofSeconds(60))).as("events before the savepoint")
                .hasSizeGreaterThanOrEqualTo(EVENTS / 4);
        String savepoint = first.stopWithSavepoint(false, savepoints.toUri().toString(), SavepointFormatType.CANONICAL)
                .get(60, TimeUnit.SECONDS);
        int beforeResume = KAFKA.readAllCommitted(topic).size();
        startGenerator(s, 1, savepoint).getJobExecutionResult().get(120, TimeUnit.SECONDS);
        List<ConsumerRecord<byte[], byte[]>> records = KAFKA.readAllCommitted(topic);
        List<UserEvent> committed = decode(records);

        assertThat(beforeResume).as("events before the savepoint").isBetween(1, EVENTS - 1);
        assertThat(committed.stream().map(UserEvent::getEventId).distinct().count()).as("distinct event ids")
                .isEqualTo(committed.size());
        assertThat(committed).as("committed events").hasSize(EVENTS);
        // A user's events share a Kafka partition and one subtask writes them at a time: offsets are their order.
        Map<String, Integer> lastSession = new HashMap<>();
        List<String> wentBack = new ArrayList<>();
        for (UserEvent e : committed) {
            int session = Integer.parseInt(e.getSessionId().substring(e.getSessionId().lastIndexOf("-s") + 2));
            Integer last = lastSession.put(e.getUserId(), session);
            if (last != null && session < last) {
                wentBack.add(e.getUserId() + ": session " + session + " after " + last);
            }
        }
        assertThat(wentBack).as("users whose sessions started over").isEmpty();
    }

    private static JobClient startGenerator(Settings s, int parallelism, String savepoint) throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        if (savepoint != null) {
            Configuration restore = new Configuration();
            restore.set(StateRecoveryOptions.SAVEPOINT_PATH, savepoint);
            env.configure(restore);
        }
        env.setParallelism(parallelism);
        EventGeneratorJob.configure(env, s);
        PipelineOperator.GENERATOR_SINK.on(EventGeneratorJob.simulatedEvents(env, s, RUN_ID, System.currentTimeMillis())
                .sinkTo(EventGeneratorJob.eventSink(KafkaAccess.plaintext(KAFKA.bootstrapServers()), s)));
        return env.executeAsync("event-generator-it-p" + parallelism);
    }

    private static long sequenceNumber(UserEvent e) {
        return Long.parseLong(e.getEventId().substring(RUN_ID.length() + 1));
    }

    private static List<ConsumerRecord<byte[], byte[]>> readUncommitted(String topic) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, KAFKA.bootstrapServers());
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_uncommitted");
        List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer =
                     new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (System.nanoTime() < deadline
                    && !end.entrySet().stream().allMatch(e -> consumer.position(e.getKey()) >= e.getValue())) {
                consumer.poll(Duration.ofMillis(200)).forEach(records::add);
            }
        }
        return records;
    }

    private static List<UserEvent> decode(List<ConsumerRecord<byte[], byte[]>> records) throws IOException {
        SpecificDatumReader<UserEvent> reader = new SpecificDatumReader<>(UserEvent.class);
        List<UserEvent> decoded = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : records) {
            decoded.add(reader.read(null, DecoderFactory.get().binaryDecoder(r.value(), null)));
        }
        return decoded;
    }

    private static void awaitTopic(String topic) throws Exception {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", KAFKA.bootstrapServers()))) {
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (true) {
                try {
                    if (admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().stream()
                            .allMatch(p -> p.leader() != null)) {
                        return;
                    }
                } catch (java.util.concurrent.ExecutionException e) {
                    if (System.nanoTime() > deadline) {
                        throw e;
                    }
                }
                Thread.sleep(100);
            }
        }
    }

    /**
     * Throws once, some events after a checkpoint completed: they are in an open Kafka transaction, which must be
     * aborted, and the generator must go on from the checkpoint.
     */
    static final class FailOnceAfterCheckpoint extends RichMapFunction<UserEvent, UserEvent> implements CheckpointListener {
        static final AtomicBoolean ARMED = new AtomicBoolean();
        static final AtomicBoolean FAILED = new AtomicBoolean();
        static final AtomicLong SINCE_ARMED = new AtomicLong();
        private static final long FAIL_AFTER_EVENTS = 1_000;
        private long sinceStart;

        static void reset() {
            ARMED.set(false);
            FAILED.set(false);
            SINCE_ARMED.set(0);
        }

        @Override
        public void open(OpenContext openContext) {
            sinceStart = 0;
        }

        @Override
        public UserEvent map(UserEvent event) {
            sinceStart++;
            if (ARMED.get() && !FAILED.get() && SINCE_ARMED.incrementAndGet() >= FAIL_AFTER_EVENTS
                    && FAILED.compareAndSet(false, true)) {
                throw new IllegalStateException("Injected failure after a checkpoint");
            }
            return event;
        }

        @Override
        public void notifyCheckpointComplete(long checkpointId) {
            if (sinceStart > 0) {
                ARMED.set(true);
            }
        }
    }
}
