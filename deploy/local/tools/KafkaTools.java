// The Kafka set-up the command-line tools (Audit, Predictions, Alerts, Models) share: the read_committed reader, the
// acks=all producer, a topic's partitions. lib.sh compiles it with each of those tools.
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import java.time.Duration;
import java.util.List;
import java.util.Properties;

final class KafkaTools {

    private KafkaTools() {
    }

    /** A byte-array consumer that sees committed records only and commits no offsets (the tools assign and seek). */
    static KafkaConsumer<byte[], byte[]> committedReader(String bootstrap) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "5000");
        return new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    /** A byte-array producer whose sends are acknowledged by all in-sync replicas. */
    static KafkaProducer<byte[], byte[]> producer(String bootstrap) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    /** All partitions of the topic, waiting up to 20 s for its metadata. */
    static List<TopicPartition> partitions(KafkaConsumer<?, ?> c, String topic) {
        return partitions(c, topic, Duration.ofSeconds(20));
    }

    /** All partitions of the topic, waiting up to {@code wait} for its metadata. */
    static List<TopicPartition> partitions(KafkaConsumer<?, ?> c, String topic, Duration wait) {
        return c.partitionsFor(topic, wait).stream().map(i -> new TopicPartition(topic, i.partition())).toList();
    }
}
