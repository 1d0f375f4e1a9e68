package dev.flinkai.jobs;

import dev.flinkai.operators.codec.AvroRecordCodec;
import dev.flinkai.operators.simulation.UserBehaviourSimulator;
import dev.flinkai.operators.testing.KafkaTestBroker;
import dev.flinkai.schemas.Alert;
import dev.flinkai.schemas.AlertKind;
import dev.flinkai.schemas.AlertSeverity;
import dev.flinkai.schemas.AlertState;
import dev.flinkai.schemas.DeadLetter;
import dev.flinkai.schemas.EventType;
import dev.flinkai.schemas.Prediction;
import dev.flinkai.schemas.UserEvent;

import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.StateRecoveryOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

/**
 * The ops job on a MiniCluster with real Kafka, on simulated traffic with the generator's faults played in (event
 * time runs minutes ahead in a few seconds): a latency spike and an error burst each warn within 2 windows, escalate
 * after 3 and resolve within 2 windows after they end; a clean run raises nothing; a savepoint taken in the middle of
 * an episode restores the detectors' state, so the episode goes on instead of starting again. The detector settings
 * are the local stack's (deploy/local/stack.env OPS_ARGS), whose limits sit above the simulation's clean values.
 */
class OpsJobIT {

    private static final long MINUTE = 60_000;
    private static final long START = 1_796_083_200_000L; // 2026-12-01T00:00Z
    private static final int EVENTS_PER_MINUTE = 1_000;
    /** The simulation's clean p99 reaches 7.6 s (chat) and its error rate 62 % (chat): limits above those. */
    private static final String LIMITS = "latencyP99=15000,errorRate=0.9,fallbackRate=0.05,deadLetterRate=0.01";
    private static final long FAULT_START = START + 20 * MINUTE;
    private static final long FAULT_END = START + 25 * MINUTE;

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1).setNumberSlotsPerTaskManager(2).build());

    @RegisterExtension
    static final KafkaTestBroker KAFKA = new KafkaTestBroker();

    private record Topics(String events, String predictions, String deadLetters, String alerts) {
        static Topics create(String name) throws Exception {
            Topics t = new Topics(name + "-events", name + "-predictions", name + "-dead-letters", name + "-alerts");
            KAFKA.createTopics(2, t.events, t.predictions, t.deadLetters, t.alerts);
            return t;
        }

        String[] args(String... more) {
            List<String> args = new ArrayList<>(List.of("--kafka.bootstrap-servers", KAFKA.bootstrapServers(),
                    "--topic.events", events, "--topic.predictions", predictions, "--topic.dead-letters", deadLetters,
                    "--topic.alerts", alerts, "--kafka.group-id", events + "-ops", "--detectors.limits", LIMITS,
                    "--checkpoint.interval", "1s", "--source.idle-timeout", "1s"));
            args.addAll(List.of(more));
            return args.toArray(String[]::new);
        }
    }

    @Test
    void aLatencySpikeAndAnErrorBurstEachWarnEscalateAndResolve() throws Exception {
        Topics topics = Topics.create("faults");
        GeneratorFault spike = new GeneratorFault(GeneratorFault.Kind.LATENCY_SPIKE, "chat", FAULT_START, FAULT_END,
                10);
        GeneratorFault burst = new GeneratorFault(GeneratorFault.Kind.ERROR_BURST, "search", FAULT_START, FAULT_END,
                1);
        produceTraffic(topics, 0, 40, spike, burst);
        runBounded(topics);

        List<Alert> alerts = alerts(topics);
        assertEpisode(alerts, "feature=chat,model=1.0.0,metric=latencyP99");
        assertEpisode(alerts, "feature=search,model=1.0.0,metric=errorRate");
        assertThat(alerts).as("alerts beside the two faults' thresholds and anomalies")
                .allSatisfy(a -> assertThat(a.getKey()).matches(
                        "feature=(chat,model=1.0.0,metric=latencyP\\d\\d|search,model=1.0.0,metric=errorRate).*"));
    }

    @Test
    void aCleanRunRaisesNoAlert() throws Exception {
        // -Dops.clean-minutes=N runs longer (for the false-positive count in deploy/bench/RESULTS.md)
        int minutes = Integer.getInteger("ops.clean-minutes", 30);
        Topics topics = Topics.create("clean");
        produceTraffic(topics, 0, minutes);
        runBounded(topics);

        List<Alert> alerts = alerts(topics);
        System.out.printf("clean run of %d minutes (event time), %d events: %d alert records%n", minutes,
                (long) minutes * EVENTS_PER_MINUTE, alerts.size());
        alerts.forEach(a -> System.out.println("  " + a));
        assertThat(alerts).isEmpty();
    }

    /**
     * Stopped with a savepoint after the spike's WARNING and restored: the episode goes on with the same alert (CRITICAL,
     * then RESOLVED, one WARNING only), which it could not without the detectors' state.
     */
    @Test
    void aSavepointInTheMiddleOfAnEpisodeKeepsItGoing(@TempDir Path dir) throws Exception {
        Topics topics = Topics.create("savepoint");
        GeneratorFault spike = new GeneratorFault(GeneratorFault.Kind.LATENCY_SPIKE, "chat", FAULT_START, FAULT_END,
                10);
        String key = "feature=chat,model=1.0.0,metric=latencyP99";
        // minutes 0 to 23 first: the spike's first windows are reported while 22 to 23 is still open
        UserBehaviourSimulator simulator = produceTraffic(topics, 0, 23, spike);
        List<Alert> before;
        String savepoint;
        JobClient job = startUnbounded(topics, null);
        try {
            before = awaitAlerts(topics, list -> list.stream().anyMatch(a -> a.getKey().equals(key)));
            savepoint = job.stopWithSavepoint(false, dir.toUri().toString(), SavepointFormatType.CANONICAL).get();
        } catch (Throwable t) {
            job.cancel().get();
            throw t;
        }

        produceTraffic(topics, simulator, 23, 40, spike);
        job = startUnbounded(topics, savepoint);
        List<Alert> all;
        try {
            all = awaitAlerts(topics, list -> list.stream()
                    .anyMatch(a -> a.getKey().equals(key) && a.getState() == AlertState.RESOLVED));
        } finally {
            job.cancel().get();
        }

        assertThat(before).filteredOn(a -> a.getKey().equals(key)).extracting(Alert::getSeverity)
                .containsOnly(AlertSeverity.WARNING);
        assertEpisode(all, key);
    }

    /** One FIRING WARNING within 2 windows of the fault's start, CRITICAL in its 3rd window, RESOLVED within 2 after. */
    private static void assertEpisode(List<Alert> alerts, String key) {
        List<Alert> episode = alerts.stream()
                .filter(a -> a.getKey().equals(key) && a.getKind() == AlertKind.THRESHOLD).toList();
        assertThat(episode).as(key).extracting(Alert::getState, Alert::getSeverity).containsExactly(
                tuple(AlertState.FIRING, AlertSeverity.WARNING),
                tuple(AlertState.FIRING, AlertSeverity.CRITICAL),
                tuple(AlertState.RESOLVED, AlertSeverity.CRITICAL));
        assertThat(episode).extracting(Alert::getId).as("one alert, one id").containsOnly(episode.get(0).getId());
        // window ends: the fault's first window ends a minute after it starts
        assertThat(episode.get(0).getLastSeenMillis()).as("warned").isLessThanOrEqualTo(FAULT_START + 2 * MINUTE);
        assertThat(episode.get(1).getLastSeenMillis()).as("escalated").isEqualTo(FAULT_START + 3 * MINUTE);
        assertThat(episode.get(2).getLastSeenMillis()).as("resolved").isLessThanOrEqualTo(FAULT_END + 2 * MINUTE);
    }

    /**
     * Minutes {@code from} to {@code to} of simulated traffic with the faults played in, and for each event the
     * prediction the main job would write (model 1.0.0, answered 25 ms after the event entered the pipeline); every
     * 500th record a dead letter instead (0.2 %, under the limit).
     */
    private static UserBehaviourSimulator produceTraffic(Topics topics, int from, int to, GeneratorFault... faults) throws Exception {
        UserBehaviourSimulator simulator = new UserBehaviourSimulator(7, 2_000, 0.8, 0, 1);
        produceTraffic(topics, simulator, from, to, faults);
        return simulator;
    }

    private static void produceTraffic(Topics topics, UserBehaviourSimulator simulator, int from, int to,
                                       GeneratorFault... faults) throws Exception {
        AvroRecordCodec<UserEvent> events = new AvroRecordCodec<>(UserEvent.class);
        AvroRecordCodec<Prediction> predictions = new AvroRecordCodec<>(Prediction.class);
        AvroRecordCodec<DeadLetter> deadLetters = new AvroRecordCodec<>(DeadLetter.class);
        List<ProducerRecord<byte[], byte[]>> deadLetterRecords = new ArrayList<>();
        List<ProducerRecord<byte[], byte[]>> eventRecords = new ArrayList<>();
        List<ProducerRecord<byte[], byte[]>> predictionRecords = new ArrayList<>();
        EventType[] labels = EventType.values();
        for (long i = (long) from * EVENTS_PER_MINUTE; i < (long) to * EVENTS_PER_MINUTE; i++) {
            long time = START + i * MINUTE / EVENTS_PER_MINUTE;
            if (i % 500 == 499) {
                deadLetterRecords.add(new ProducerRecord<>(topics.deadLetters, null, time, null,
                        deadLetters.encode(DeadLetter.newBuilder().setSourceTopic(topics.events).setSourcePartition(0)
                                .setSourceOffset(i).setReason("not a UserEvent in Avro binary")
                                .setFailedAtMillis(time).build())));
                continue;
            }
            String id = "e-" + i;
            Supplier<UserEvent> next = () -> simulator.next(id, time);
            for (GeneratorFault fault : faults) {
                Supplier<UserEvent> plain = next;
                next = () -> fault.next(plain);
            }
            UserEvent e = next.get();
            byte[] user = e.getUserId().getBytes(StandardCharsets.UTF_8);
            eventRecords.add(new ProducerRecord<>(topics.events, null, time, user, events.encode(e)));
            Prediction p = Prediction.newBuilder().setEventId(e.getEventId()).setUserId(e.getUserId())
                    .setModelName("next-event-mlp").setModelVersion("1.0.0").setScores(List.of(1f))
                    .setLabel(labels[(int) (i % labels.length)].name()).setFallback(false)
                    .setEventTimeMillis(time).setIngestTimeMillis(time + 5).setPredictTimeMillis(time + 30)
                    .setServedBy("local").build();
            predictionRecords.add(new ProducerRecord<>(topics.predictions, null, time + 30, user,
                    predictions.encode(p)));
        }
        KAFKA.produce(topics.events, eventRecords);
        KAFKA.produce(topics.predictions, predictionRecords);
        KAFKA.produce(topics.deadLetters, deadLetterRecords);
    }

    private static void runBounded(Topics topics) throws Exception {
        OpsSettings settings = OpsSettings.fromArgs(topics.args("--bounded", "true"));
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        OpsJob.configure(env, settings);
        env.setParallelism(2);
        OpsJob.buildPipeline(OpsJob.kafkaInputs(env, settings), OpsJob.alertSink(settings), settings);
        env.execute("ops-it");
    }

    private static JobClient startUnbounded(Topics topics, String savepoint) throws Exception {
        OpsSettings settings = OpsSettings.fromArgs(topics.args());
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        OpsJob.configure(env, settings);
        if (savepoint != null) {
            Configuration restore = new Configuration();
            restore.set(StateRecoveryOptions.SAVEPOINT_PATH, savepoint);
            env.configure(restore);
        }
        env.setParallelism(2);
        OpsJob.buildPipeline(OpsJob.kafkaInputs(env, settings), OpsJob.alertSink(settings), settings);
        return env.executeAsync("ops-it-unbounded");
    }

    private static List<Alert> alerts(Topics topics) throws Exception {
        return decode(KAFKA.readAllCommitted(topics.alerts), Alert.class);
    }

    private static List<Alert> awaitAlerts(Topics topics, Predicate<List<Alert>> done) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        List<Alert> alerts = alerts(topics);
        while (!done.test(alerts)) {
            assertThat(System.nanoTime()).as("alerts in time; so far " + alerts).isLessThan(deadline);
            Thread.sleep(500);
            alerts = alerts(topics);
        }
        return alerts;
    }

    private static <T extends SpecificRecord> List<T> decode(List<ConsumerRecord<byte[], byte[]>> records,
                                                              Class<T> type) throws Exception {
        AvroRecordCodec<T> codec = new AvroRecordCodec<>(type);
        List<T> decoded = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : records) {
            decoded.add(codec.decode(r.value()));
        }
        return decoded;
    }
}
