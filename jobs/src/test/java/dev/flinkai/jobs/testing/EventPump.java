package dev.flinkai.jobs.testing;

import dev.flinkai.operators.simulation.UserBehaviourSimulator;
import dev.flinkai.schemas.Prediction;
import dev.flinkai.schemas.UserEvent;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

import static dev.flinkai.operators.testing.AvroTestRecords.avro;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Simulated events sent to Kafka as time passes (~100 per second), remembering when each was sent: what a model
 * swap's "switched within" is measured against.
 */
public final class EventPump implements AutoCloseable {
    private final String topic;
    private final UserBehaviourSimulator simulator;
    private final String runId = UUID.randomUUID().toString().substring(0, 6);
    private final KafkaProducer<byte[], byte[]> producer;
    private final Map<String, Long> sentAt = new ConcurrentHashMap<>();
    private final List<UserEvent> sent = Collections.synchronizedList(new ArrayList<>());

    public EventPump(String bootstrapServers, String topic, int users, long seed) {
        this.topic = topic;
        this.simulator = new UserBehaviourSimulator(seed, users, 0.8, 0, 1);
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        producer = new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer());
    }

    public void runFor(Duration duration) throws Exception {
        long end = System.currentTimeMillis() + duration.toMillis();
        while (System.currentTimeMillis() < end) {
            for (int i = 0; i < 10; i++) {
                send(simulator.next(runId + "-" + sent.size(), System.currentTimeMillis()));
            }
            Thread.sleep(100);
        }
        producer.flush();
    }

    public void send(UserEvent event) throws Exception {
        sentAt.put(event.getEventId(), System.currentTimeMillis());
        sent.add(event);
        producer.send(new ProducerRecord<>(topic, event.getUserId().getBytes(StandardCharsets.UTF_8), avro(event))).get();
    }

    public int produced() {
        return sent.size();
    }

    public long sentAt(String eventId) {
        return sentAt.get(eventId);
    }

    public int indexOf(String eventId) {
        synchronized (sent) {
            for (int i = 0; i < sent.size(); i++) {
                if (sent.get(i).getEventId().equals(eventId)) {
                    return i;
                }
            }
        }
        return -1;
    }

    public void assertExactlyOnePredictionPerEvent(List<Prediction> predictions) {
        Map<String, Long> perEvent = predictions.stream()
                .collect(Collectors.groupingBy(Prediction::getEventId, Collectors.counting()));
        assertThat(perEvent.entrySet()).filteredOn(e -> e.getValue() > 1).as("predicted twice").isEmpty();
        assertThat(sentAt.keySet()).filteredOn(id -> !perEvent.containsKey(id)).as("never predicted").isEmpty();
        assertThat(predictions).hasSize(sent.size());
    }

    @Override
    public void close() {
        producer.close();
    }
}
