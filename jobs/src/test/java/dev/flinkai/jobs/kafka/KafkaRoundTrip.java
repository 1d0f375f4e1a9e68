package dev.flinkai.jobs.kafka;

import dev.flinkai.operators.ingest.ReceivedRecord;
import dev.flinkai.operators.simulation.UserBehaviourSimulator;
import dev.flinkai.schemas.UserEvent;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.CloseableIterator;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

import static org.assertj.core.api.Assertions.assertThat;

/** What the Kafka ITs do through their brokers, each with the client settings of a job. */
final class KafkaRoundTrip {

    private static final int EVENTS = 500;

    private KafkaRoundTrip() {
    }

    /**
     * Writes simulated events to {@code topic} through the jobs' Avro sink and reads them back through the main job's
     * source as consumer group {@code groupId}, both with the client settings of {@code kafka}: every event written
     * must be read back. {@code name} tells the jobs, the transactional ids and the event ids of one IT apart.
     */
    static void assertEveryEventWrittenIsReadBack(KafkaAccess kafka, String topic, String groupId, String name)
            throws Exception {
        List<UserEvent> events = simulatedEvents(name);

        StreamExecutionEnvironment writer = StreamExecutionEnvironment.getExecutionEnvironment();
        writer.fromData(events, new AvroTypeInfo<>(UserEvent.class))
                .sinkTo(KafkaIo.avroSink(kafka, topic, UserEvent.class,
                        e -> e.getUserId().getBytes(StandardCharsets.UTF_8), DeliveryGuarantee.AT_LEAST_ONCE,
                        name + "-it", Duration.ofMinutes(10), Duration.ofMillis(5)));
        writer.execute("write through " + name);

        StreamExecutionEnvironment reader = StreamExecutionEnvironment.getExecutionEnvironment();
        List<String> read = new ArrayList<>();
        try (CloseableIterator<ReceivedRecord> records = reader
                .fromSource(KafkaIo.userEventSource(kafka, topic, groupId), WatermarkStrategy.noWatermarks(), "source")
                .executeAndCollect("read through " + name)) {
            while (read.size() < EVENTS && records.hasNext()) {
                read.add(records.next().event.getEventId());
            }
        }

        assertThat(read).containsExactlyInAnyOrderElementsOf(events.stream().map(UserEvent::getEventId).toList());
    }

    /** An admin client's settings from {@code kafka}, with timeouts short enough for a refused login to show. */
    static Properties clientOf(KafkaAccess kafka) {
        Properties client = kafka.clientProperties();
        client.put("bootstrap.servers", kafka.bootstrapServers());
        client.put("request.timeout.ms", "10000");
        client.put("default.api.timeout.ms", "20000");
        return client;
    }

    private static List<UserEvent> simulatedEvents(String name) {
        UserBehaviourSimulator simulator = new UserBehaviourSimulator(7, 50, 0.8, 0, 1);
        List<UserEvent> events = new ArrayList<>();
        for (int i = 0; i < EVENTS; i++) {
            events.add(simulator.next(name + "-" + i, 1_700_000_000_000L + i));
        }
        return events;
    }
}
