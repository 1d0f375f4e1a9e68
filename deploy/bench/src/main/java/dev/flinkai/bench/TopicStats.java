package dev.flinkai.bench;

import dev.flinkai.schemas.UserEvent;

import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

/**
 * Reads a user-events topic from the beginning to its current end and prints, as JSON, how many records it holds, how
 * many decode as {@link UserEvent}s, and how many distinct users they name (the user count of a state-size run).
 *
 * <pre>
 * java -Xmx1g -cp flink-ai-bench.jar:slf4j-api.jar:slf4j-nop.jar dev.flinkai.bench.TopicStats \
 *   --bootstrap 127.0.0.1:9092 --topic bench-events
 * </pre>
 */
public final class TopicStats {

    private TopicStats() {}

    public static void main(String[] args) {
        Map<String, String> a = BenchArgs.parse(args);
        String bootstrap = BenchArgs.get(a, "bootstrap", "127.0.0.1:9092");
        String topic = BenchArgs.get(a, "topic", null);
        Properties cp = BenchArgs.consumerProperties(bootstrap, "read_committed");
        cp.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "5000");
        long records = 0;
        long events = 0;
        Set<String> users = new HashSet<>();
        long t0 = System.nanoTime();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(cp)) {
            List<TopicPartition> parts = new ArrayList<>();
            for (PartitionInfo p : consumer.partitionsFor(topic)) {
                parts.add(new TopicPartition(p.topic(), p.partition()));
            }
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
            Map<TopicPartition, Long> end = consumer.endOffsets(parts);
            SpecificDatumReader<UserEvent> reader = new SpecificDatumReader<>(UserEvent.class);
            BinaryDecoder decoder = null;
            UserEvent e = new UserEvent();
            while (parts.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    if (r.offset() >= end.get(new TopicPartition(r.topic(), r.partition()))) {
                        continue;
                    }
                    records++;
                    try {
                        decoder = DecoderFactory.get().binaryDecoder(r.value(), decoder);
                        e = reader.read(e, decoder);
                        events++;
                        users.add(e.getUserId().toString());
                    } catch (Exception ex) {
                        // not a UserEvent: counted as a record only
                    }
                }
            }
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("topic", topic);
        out.put("records", records);
        out.put("events", events);
        out.put("distinct_users", users.size());
        out.put("read_s", ModelLimitBench.round((System.nanoTime() - t0) / 1e9, 2));
        System.out.println(BenchArgs.toJson(out));
    }
}
