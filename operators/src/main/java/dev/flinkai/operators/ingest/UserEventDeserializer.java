package dev.flinkai.operators.ingest;

import dev.flinkai.operators.codec.UserEventDecoder;
import dev.flinkai.schemas.DeadLetter;
import dev.flinkai.schemas.UserEvent;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;

import java.nio.ByteBuffer;

/**
 * Decodes Avro {@link UserEvent}s (with {@link UserEventDecoder}) and never throws: a record that cannot be decoded, or decodes to an invalid event,
 * becomes a {@link DeadLetter} carrying its bytes, topic, partition, offset and the reason. A poison record therefore
 * costs one dead letter, not a job restart loop.
 */
public class UserEventDeserializer implements KafkaRecordDeserializationSchema<ReceivedRecord> {

    private transient UserEventDecoder decoder;

    @Override
    public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<ReceivedRecord> out) {
        byte[] value = record.value();
        UserEvent event = null;
        String reason;
        if (value == null || value.length == 0) {
            reason = "empty record value";
        } else {
            if (decoder == null) {
                decoder = new UserEventDecoder();
            }
            try {
                event = decoder.decode(value);
                String problem = UserEventValidator.problem(event);
                reason = problem == null ? null : "invalid event: " + problem;
            } catch (Exception | StackOverflowError e) {
                reason = "not a UserEvent in Avro binary: " + e;
            }
        }
        // Emit outside the try: operators chained downstream run inside collect(), and their failures must fail
        // the task (and be recovered from the checkpoint), not be mistaken for a bad record.
        if (reason == null) {
            out.collect(ReceivedRecord.valid(event, record.timestamp()));
            return;
        }
        out.collect(ReceivedRecord.dead(DeadLetter.newBuilder()
                .setPayload(value == null ? null : ByteBuffer.wrap(value))
                .setSourceTopic(record.topic())
                .setSourcePartition(record.partition())
                .setSourceOffset(record.offset())
                .setReason(reason)
                .setFailedAtMillis(System.currentTimeMillis())
                .build()));
    }

    @Override
    public TypeInformation<ReceivedRecord> getProducedType() {
        return TypeInformation.of(ReceivedRecord.class); // ReceivedRecordSerializer, by its @TypeInfo
    }
}
