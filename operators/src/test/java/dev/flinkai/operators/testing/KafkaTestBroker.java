package dev.flinkai.operators.testing;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;
import java.util.function.BiPredicate;
import java.util.stream.Collectors;

/**
 * A real single-node KRaft Kafka broker in this JVM, with the few client operations the tests of every module need.
 * A test class shares one broker by {@code @RegisterExtension static final KafkaTestBroker KAFKA = new KafkaTestBroker();}:
 * JUnit starts it before the class's {@code @BeforeAll} methods and closes it after its {@code @AfterAll} methods.
 * Constructing it starts nothing, so such a field costs nothing at class load; elsewhere {@link #start()} starts it.
 */
public final class KafkaTestBroker implements AutoCloseable, BeforeAllCallback, AfterAllCallback {

    private KafkaClusterTestKit cluster;

    public KafkaTestBroker start() throws Exception {
        if (cluster != null) {
            throw new IllegalStateException("This Kafka test broker is already started");
        }
        cluster = new KafkaClusterTestKit.Builder(new TestKitNodes.Builder()
                .setCombined(true)
                .setNumBrokerNodes(1)
                .setNumControllerNodes(1)
                .build())
                .setConfigProp("offsets.topic.replication.factor", "1")
                .setConfigProp("transaction.state.log.replication.factor", "1")
                .setConfigProp("transaction.state.log.min.isr", "1")
                .setConfigProp("group.initial.rebalance.delay.ms", "0")
                .build();
        // Assigned before it runs: a start that fails half-way is still closed by close().
        cluster.format();
        cluster.startup();
        cluster.waitForReadyBrokers();
        return this;
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        start();
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        close();
    }

    public String bootstrapServers() {
        if (cluster == null) {
            throw new IllegalStateException("The Kafka test broker is not started: register it as a static "
                    + "@RegisterExtension field, or call start()");
        }
        return cluster.bootstrapServers();
    }

    public void createTopics(int partitions, String... topics) throws Exception {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrapServers()))) {
            List<NewTopic> newTopics = new ArrayList<>();
            for (String topic : topics) {
                newTopics.add(new NewTopic(topic, partitions, (short) 1));
            }
            admin.createTopics(newTopics).all().get();
        }
    }

    /**
     * Writes {@code records} and returns when all are acknowledged; the idempotent producer keeps each partition's
     * records in the order given.
     */
    public void produce(String topic, List<ProducerRecord<byte[], byte[]>> records) throws Exception {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        props.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        List<Future<RecordMetadata>> sent = new ArrayList<>(records.size());
        try (KafkaProducer<byte[], byte[]> producer =
                     new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (ProducerRecord<byte[], byte[]> record : records) {
                sent.add(producer.send(record));
            }
            for (Future<RecordMetadata> s : sent) {
                s.get();
            }
        }
    }

    /**
     * Reads {@code topic} from the beginning with read_committed (what a downstream consumer sees) until at least
     * {@code expected} records arrived or {@code timeout} passed.
     */
    public List<ConsumerRecord<byte[], byte[]>> readCommitted(String topic, int expected, Duration timeout) {
        return read(topic, timeout, (consumer, records) -> records.size() >= expected);
    }

    /** Every record of {@code topic} that is committed right now: reads up to the last stable offsets. */
    public List<ConsumerRecord<byte[], byte[]>> readAllCommitted(String topic) {
        return read(topic, Duration.ofSeconds(30), new BiPredicate<>() {
            private Map<TopicPartition, Long> end;

            @Override
            public boolean test(KafkaConsumer<byte[], byte[]> consumer, List<ConsumerRecord<byte[], byte[]>> records) {
                if (end == null) {
                    end = consumer.endOffsets(consumer.assignment()); // read_committed: the last stable offsets
                }
                return end.entrySet().stream().allMatch(e -> consumer.position(e.getKey()) >= e.getValue());
            }
        });
    }

    private List<ConsumerRecord<byte[], byte[]>> read(
            String topic, Duration timeout, BiPredicate<KafkaConsumer<byte[], byte[]>, List<ConsumerRecord<byte[], byte[]>>> done) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer =
                     new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).collect(Collectors.toList());
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            long deadline = System.nanoTime() + timeout.toNanos();
            while (System.nanoTime() < deadline && !done.test(consumer, records)) {
                consumer.poll(Duration.ofMillis(200)).forEach(records::add);
            }
        }
        return records;
    }

    @Override
    public void close() throws Exception {
        if (cluster != null) {
            cluster.close();
            cluster = null;
        }
    }
}
