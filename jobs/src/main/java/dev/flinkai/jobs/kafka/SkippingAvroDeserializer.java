package dev.flinkai.jobs.kafka;

import dev.flinkai.operators.codec.AvroRecordCodec;

import org.apache.avro.specific.SpecificRecordBase;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.metrics.Counter;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;

/**
 * Avro-binary values of a topic another job of the suite writes (predictions, dead letters), for a job that only
 * watches them: a record that does not decode is skipped and counted in the metric {@code undecodableRecords} with a
 * warning naming where it is, rather than failing the job (it is the writer's bug, and the writer's job has its own
 * dead letters).
 */
public final class SkippingAvroDeserializer<T extends SpecificRecordBase> implements KafkaRecordDeserializationSchema<T> {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(SkippingAvroDeserializer.class);

    private final Class<T> type;
    private transient AvroRecordCodec<T> codec;
    private transient Counter undecodable;

    public SkippingAvroDeserializer(Class<T> type) {
        this.type = type;
    }

    @Override
    public void open(DeserializationSchema.InitializationContext context) {
        codec = new AvroRecordCodec<>(type);
        undecodable = context.getMetricGroup().counter("undecodableRecords");
    }

    @Override
    public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<T> out) {
        try {
            out.collect(codec.decode(record.value()));
        } catch (IOException | RuntimeException e) {
            undecodable.inc();
            LOG.warn("Skipped a record of {} partition {} offset {} that is no {}: {}", record.topic(),
                    record.partition(), record.offset(), type.getSimpleName(), e.toString());
        }
    }

    @Override
    public TypeInformation<T> getProducedType() {
        return new AvroTypeInfo<>(type);
    }
}
