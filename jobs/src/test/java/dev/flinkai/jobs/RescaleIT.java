package dev.flinkai.jobs;

import dev.flinkai.operators.simulation.UserBehaviourSimulator;
import dev.flinkai.operators.testing.CommittedModel;
import dev.flinkai.operators.testing.KafkaTestBroker;
import dev.flinkai.schemas.Prediction;
import dev.flinkai.schemas.UserEvent;

import org.apache.avro.io.DecoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
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

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

import static dev.flinkai.operators.testing.AvroTestRecords.avro;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Rescaling under state: the main job stopped with a savepoint and resumed at parallelism 1, then 2, then 1 again
 * gives every event the prediction a run that never stopped gives it. A prediction depends only on the user's context
 * (the events of the user before it) and the model, so this holds only if every context survives both
 * redistributions of the keyed state (RocksDB, by key group) and the sources resume at the savepoint's offsets.
 */
class RescaleIT {

    private static final int EVENTS = 1_500;
    private static final int USERS = 120;
    /** Fixed event times, one event every 250 ms from 2026-01-01: the same input on every run. */
    private static final long FIRST_EVENT_TIME = 1_767_225_600_000L;

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(2)
            .build());

    @RegisterExtension
    static final KafkaTestBroker KAFKA = new KafkaTestBroker();

    @Test
    void oneToTwoToOneSubtasksGivesThePredictionsOfARunWithoutRescaling(@TempDir Path dir) throws Exception {
        List<UserEvent> events = simulatedEvents();
        List<List<UserEvent>> parts = List.of(events.subList(0, 500), events.subList(500, 1_000),
                events.subList(1_000, EVENTS));

        Run straight = Run.create("straight", dir);
        KAFKA.produce(straight.events, encode(straight.events, events));
        JobClient job = straight.start(1, null);
        List<Prediction> unscaled;
        try {
            unscaled = straight.awaitPredictions(EVENTS);
        } finally {
            job.cancel().get();
        }

        Run rescaled = Run.create("rescaled", dir);
        String savepoint = null;
        int[] parallelism = {1, 2, 1};
        for (int i = 0; i < parts.size(); i++) {
            KAFKA.produce(rescaled.events, encode(rescaled.events, parts.get(i)));
            job = rescaled.start(parallelism[i], savepoint);
            int upToHere = (i + 1) * 500;
            if (i < parts.size() - 1) {
                rescaled.awaitPredictions(upToHere);
                savepoint = job.stopWithSavepoint(false, dir.resolve("savepoints").toUri().toString(),
                        SavepointFormatType.CANONICAL).get();
            } else {
                try {
                    rescaled.awaitPredictions(upToHere);
                } finally {
                    job.cancel().get();
                }
            }
        }
        List<Prediction> withRescales = rescaled.committedPredictions();

        assertOnePerEvent(unscaled, events);
        assertOnePerEvent(withRescales, events);
        Map<String, Prediction> expected = unscaled.stream()
                .collect(Collectors.toMap(Prediction::getEventId, Function.identity()));
        List<String> different = new ArrayList<>();
        for (Prediction p : withRescales) {
            Prediction want = expected.get(p.getEventId());
            if (!p.getLabel().equals(want.getLabel()) || !p.getModelVersion().equals(want.getModelVersion())
                    || !p.getContextEvents().equals(want.getContextEvents()) || p.getFallback() != want.getFallback()
                    || !sameScores(p.getScores(), want.getScores())) {
                different.add(p.getEventId() + " (" + p.getUserId() + "): label " + p.getLabel() + ", version "
                        + p.getModelVersion() + ", context events " + p.getContextEvents() + ", scores " + p.getScores()
                        + " instead of " + want.getLabel() + ", " + want.getModelVersion() + ", "
                        + want.getContextEvents() + ", " + want.getScores());
            }
        }
        assertThat(different).as("predictions after 1 -> 2 -> 1 subtasks that differ from the run without rescaling")
                .isEmpty();
        // Not vacuous: most events after each savepoint are of users with events before it, whose context had to be
        // restored (and, at parallelism 2, moved to the subtask owning the user's key group).
        for (int i = 1; i < parts.size(); i++) {
            Set<String> usersBefore = events.subList(0, i * 500).stream().map(UserEvent::getUserId).collect(Collectors.toSet());
            assertThat(parts.get(i)).as("events of part %d of users with earlier events", i + 1)
                    .filteredOn(e -> usersBefore.contains(e.getUserId())).hasSizeGreaterThan(400);
        }
    }

    // ---------------------------------------------------------------------------------------------

    /** One run's own topics, consumer group and checkpoints. */
    private record Run(String name, String events, String predictions, Path checkpoints) {
        static Run create(String name, Path dir) throws Exception {
            Run run = new Run(name, "events-" + name, "predictions-" + name, dir.resolve("checkpoints-" + name));
            KAFKA.createTopics(4, run.events);
            KAFKA.createTopics(2, run.predictions, "dead-letters-" + name, "model-events-" + name);
            KAFKA.createTopics(1, "profiles-" + name, "model-updates-" + name);
            return run;
        }

        JobClient start(int parallelism, String savepoint) throws Exception {
            ContextInferenceSettings settings = ContextInferenceSettings.fromArgs(
                    "--kafka.bootstrap-servers", KAFKA.bootstrapServers(),
                    "--topic.events", events,
                    "--topic.predictions", predictions,
                    "--topic.dead-letters", "dead-letters-" + name,
                    "--topic.profiles", "profiles-" + name,
                    "--topic.model-updates", "model-updates-" + name,
                    "--topic.model-events", "model-events-" + name,
                    "--kafka.group-id", "rescale-" + name,
                    "--delivery", "exactly-once",
                    "--checkpoint.interval", "1s",
                    "--checkpoint.dir", checkpoints.toUri().toString(),
                    "--model.uri", CommittedModel.uri(),
                    // Fewer cached users than users: contexts are read back from RocksDB, not only kept in the heap.
                    "--state.cached-users", "20");
            StreamExecutionEnvironment env = ContextInferenceJob.createEnvironment(settings);
            if (savepoint != null) {
                Configuration restore = new Configuration();
                restore.set(StateRecoveryOptions.SAVEPOINT_PATH, savepoint);
                env.configure(restore);
            }
            env.setParallelism(parallelism);
            ContextInferenceJob.buildPipeline(ContextInferenceJob.kafkaInput(env, settings),
                    ContextInferenceJob.modelUpdates(env, settings, CommittedModel.NAME),
                    ContextInferenceJob.kafkaOutputs(settings), settings);
            return env.executeAsync("rescale-it-" + name + "-p" + parallelism);
        }

        List<Prediction> awaitPredictions(int expected) throws IOException {
            List<Prediction> committed = decode(KAFKA.readCommitted(predictions, expected, Duration.ofSeconds(60)));
            assertThat(committed.size()).as("committed predictions of %s within 60 s", name)
                    .isGreaterThanOrEqualTo(expected);
            return committed;
        }

        List<Prediction> committedPredictions() throws IOException {
            return decode(KAFKA.readAllCommitted(predictions));
        }
    }

    private static void assertOnePerEvent(List<Prediction> predictions, List<UserEvent> events) {
        Map<String, Long> perEvent = predictions.stream()
                .collect(Collectors.groupingBy(Prediction::getEventId, Collectors.counting()));
        assertThat(perEvent.entrySet().stream().filter(e -> e.getValue() > 1).map(Map.Entry::getKey).toList())
                .as("event ids with more than one prediction").isEmpty();
        assertThat(events.stream().map(UserEvent::getEventId).filter(id -> !perEvent.containsKey(id)).toList())
                .as("event ids without a prediction").isEmpty();
        assertThat(predictions).hasSize(events.size());
    }

    private static boolean sameScores(List<Float> actual, List<Float> expected) {
        if (actual.size() != expected.size()) {
            return false;
        }
        for (int k = 0; k < actual.size(); k++) {
            if (Math.abs(actual.get(k) - expected.get(k)) > 1e-6f) {
                return false;
            }
        }
        return true;
    }

    private static List<UserEvent> simulatedEvents() {
        UserBehaviourSimulator simulator = new UserBehaviourSimulator(17, USERS, 0.8, 0, 1);
        List<UserEvent> events = new ArrayList<>(EVENTS);
        for (int i = 0; i < EVENTS; i++) {
            events.add(simulator.next("rescale-" + i, FIRST_EVENT_TIME + i * 250L));
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

    private static List<Prediction> decode(List<ConsumerRecord<byte[], byte[]>> records) throws IOException {
        SpecificDatumReader<Prediction> reader = new SpecificDatumReader<>(Prediction.class);
        List<Prediction> out = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : records) {
            out.add(reader.read(null, DecoderFactory.get().binaryDecoder(r.value(), null)));
        }
        return out;
    }
}
