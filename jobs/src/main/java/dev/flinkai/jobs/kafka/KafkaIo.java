package dev.flinkai.jobs.kafka;

import dev.flinkai.operators.ingest.ReceivedRecord;
import dev.flinkai.operators.ingest.UserEventDeserializer;
import dev.flinkai.schemas.AvroCoders;

import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.KafkaSourceBuilder;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.formats.avro.AvroSerializationSchema;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;

import java.time.Duration;
import java.util.Properties;

/** Kafka sources and sinks for the project's Avro records, configured the same way by every job. */
public final class KafkaIo {

    private KafkaIo() {}

    /** {@link #userEventSource(KafkaAccess, String, String)} from brokers that take plaintext connections. */
    public static KafkaSource<ReceivedRecord> userEventSource(String bootstrapServers, String topic, String groupId) {
        return userEventSource(KafkaAccess.plaintext(bootstrapServers), topic, groupId);
    }

    /** Reads user events from the committed offsets of {@code groupId}, or from the earliest on first start. */
    public static KafkaSource<ReceivedRecord> userEventSource(KafkaAccess kafka, String topic, String groupId) {
        return recordSource(kafka, topic, groupId, new UserEventDeserializer(),
                OffsetsInitializer.committedOffsets(OffsetResetStrategy.EARLIEST));
    }

    /**
     * Reads {@code topic} with {@code deserializer} from {@code startingOffsets} on a job's first start; a restore
     * resumes from the checkpointed offsets.
     */
    public static KafkaSource<ReceivedRecord> recordSource(KafkaAccess kafka, String topic, String groupId,
                                                           KafkaRecordDeserializationSchema<ReceivedRecord> deserializer,
                                                           OffsetsInitializer startingOffsets) {
        return sourceBuilder(kafka, topic, groupId, deserializer, startingOffsets).build();
    }

    /** {@link #recordSource} as a builder, for sources of other records or with an end. */
    public static <T> KafkaSourceBuilder<T> sourceBuilder(KafkaAccess kafka, String topic, String groupId,
                                                          KafkaRecordDeserializationSchema<T> deserializer,
                                                          OffsetsInitializer startingOffsets) {
        return KafkaSource.<T>builder()
                .setProperties(kafka.clientProperties())
                .setBootstrapServers(kafka.bootstrapServers())
                .setTopics(topic)
                .setGroupId(groupId)
                .setStartingOffsets(startingOffsets)
                .setDeserializer(deserializer)
                // Producers may write transactionally; never read what they abort.
                .setProperty("isolation.level", "read_committed")
                .setProperty("partition.discovery.interval.ms", "60000");
    }

    /** {@link #avroSink(KafkaAccess, String, Class, SerializationSchema, DeliveryGuarantee, String, Duration,
     * Duration)} to brokers that take plaintext connections. */
    public static <T extends SpecificRecord> KafkaSink<T> avroSink(
            String bootstrapServers, String topic, Class<T> type, SerializationSchema<T> key,
            DeliveryGuarantee guarantee, String transactionalIdPrefix, Duration transactionTimeout, Duration linger) {
        return avroSink(KafkaAccess.plaintext(bootstrapServers), topic, type, key, guarantee, transactionalIdPrefix,
                transactionTimeout, linger);
    }

    /** A sink writing Avro-binary values keyed by {@code key}, with Avro's own writer for {@code type}. */
    public static <T extends SpecificRecord> KafkaSink<T> avroSink(
            KafkaAccess kafka, String topic, Class<T> type, SerializationSchema<T> key,
            DeliveryGuarantee guarantee, String transactionalIdPrefix, Duration transactionTimeout, Duration linger) {
        return sink(kafka, topic, key, new FastAvroSerializationSchema<>(type), guarantee,
                transactionalIdPrefix, transactionTimeout, linger);
    }

    /**
     * A sink writing {@code value}s keyed by {@code key}. In exactly-once mode records become visible to
     * read_committed consumers when the checkpoint that covers them completes. {@code linger}: how long the producer
     * waits for more records before it sends a partition's batch.
     */
    public static <T> KafkaSink<T> sink(
            KafkaAccess kafka, String topic, SerializationSchema<T> key, SerializationSchema<T> value,
            DeliveryGuarantee guarantee, String transactionalIdPrefix, Duration transactionTimeout, Duration linger) {
        Properties producer = kafka.clientProperties();
        producer.setProperty("transaction.timeout.ms", Long.toString(transactionTimeout.toMillis()));
        producer.setProperty("linger.ms", Long.toString(linger.toMillis()));
        // Room for ~1,000 records per partition and request instead of the default 16 KB (~130 records): fewer,
        // larger produce requests cost the sender thread and the broker less per record.
        producer.setProperty("batch.size", Integer.toString(128 * 1024));
        // No compression: in a profile of the job lz4 took ~9 % of the TaskManager's Java samples (compressing here
        // and decompressing in every reader), while Avro records of this size gain little from it.
        producer.setProperty("compression.type", "none");
        return KafkaSink.<T>builder()
                .setBootstrapServers(kafka.bootstrapServers())
                .setKafkaProducerConfig(producer)
                .setRecordSerializer(KafkaRecordSerializationSchema.<T>builder()
                        .setTopic(topic)
                        .setKeySerializationSchema(key)
                        .setValueSerializationSchema(value)
                        .build())
                .setDeliveryGuarantee(guarantee)
                .setTransactionalIdPrefix(transactionalIdPrefix)
                .build();
    }

    /** Flink's Avro serialization with Avro's generated coders switched on in the writing JVM. */
    private static final class FastAvroSerializationSchema<T extends SpecificRecord> implements SerializationSchema<T> {
        private final AvroSerializationSchema<T> avro;

        FastAvroSerializationSchema(Class<T> type) {
            this.avro = AvroSerializationSchema.forSpecific(type);
        }

        @Override
        public void open(InitializationContext context) throws Exception {
            AvroCoders.enable();
            avro.open(context);
        }

        @Override
        public byte[] serialize(T element) {
            return avro.serialize(element);
        }
    }
}
