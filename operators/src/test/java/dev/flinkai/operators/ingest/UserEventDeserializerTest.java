package dev.flinkai.operators.ingest;

import dev.flinkai.schemas.EventType;
import dev.flinkai.schemas.UserEvent;

import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static dev.flinkai.operators.testing.AvroTestRecords.avro;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class UserEventDeserializerTest {

    private final UserEventDeserializer deserializer = new UserEventDeserializer();

    private static UserEvent event() {
        return UserEvent.newBuilder().setEventId("e1").setUserId("u1").setSessionId("s1")
                .setEventType(EventType.FEEDBACK).setEventTimeMillis(1_700_000_000_000L).setRating(4).build();
    }

    private List<ReceivedRecord> read(byte[] value) throws Exception {
        ConsumerRecord<byte[], byte[]> record = new ConsumerRecord<>("user-events", 3, 42L, 1_700_000_000_123L,
                TimestampType.CREATE_TIME, 0, value == null ? 0 : value.length, null, value, new RecordHeaders(), Optional.empty());
        List<ReceivedRecord> out = new ArrayList<>();
        deserializer.deserialize(record, new Collector<>() {
            @Override
            public void collect(ReceivedRecord r) {
                out.add(r);
            }

            @Override
            public void close() {}
        });
        return out;
    }

    @Test
    void decodesAValidEventWithItsKafkaTimestamp() throws Exception {
        List<ReceivedRecord> out = read(avro(event()));
        assertThat(out).singleElement().satisfies(r -> {
            assertThat(r.isValid()).isTrue();
            assertThat(r.event).isEqualTo(event());
            assertThat(r.ingestTimeMillis).isEqualTo(1_700_000_000_123L);
        });
    }

    @Test
    void failuresOfChainedOperatorsPropagateInsteadOfBecomingDeadLetters() throws Exception {
        ConsumerRecord<byte[], byte[]> record = new ConsumerRecord<>("user-events", 0, 7L, new byte[0], avro(event()));
        List<ReceivedRecord> deadLetters = new ArrayList<>();
        Collector<ReceivedRecord> failingDownstream = new Collector<>() {
            @Override
            public void collect(ReceivedRecord r) {
                if (r.isValid()) {
                    throw new IllegalStateException("downstream operator failed");
                }
                deadLetters.add(r);
            }

            @Override
            public void close() {}
        };
        assertThatThrownBy(() -> deserializer.deserialize(record, failingDownstream))
                .hasMessage("downstream operator failed");
        assertThat(deadLetters).isEmpty();
    }

    @Test
    void undecodableBytesBecomeADeadLetterWithSourcePosition() throws Exception {
        byte[] garbage = {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0x0f, 1, 2};
        List<ReceivedRecord> out = read(garbage);
        assertThat(out).singleElement().satisfies(r -> {
            assertThat(r.isValid()).isFalse();
            assertThat(r.deadLetter.getReason()).startsWith("not a UserEvent in Avro binary");
            assertThat(r.deadLetter.getSourceTopic()).isEqualTo("user-events");
            assertThat(r.deadLetter.getSourcePartition()).isEqualTo(3);
            assertThat(r.deadLetter.getSourceOffset()).isEqualTo(42L);
            assertThat(r.deadLetter.getPayload().array()).isEqualTo(garbage);
        });
    }

    @Test
    void decodableButInvalidEventsAndEmptyValuesBecomeDeadLetters() throws Exception {
        UserEvent blankUser = UserEvent.newBuilder(event()).setUserId(" ").build();
        assertThat(read(avro(blankUser))).singleElement()
                .satisfies(r -> assertThat(r.deadLetter.getReason()).isEqualTo("invalid event: userId is empty"));
        UserEvent outcomeWithoutFlag = UserEvent.newBuilder(event()).setEventType(EventType.TASK_OUTCOME).setRating(null).build();
        assertThat(read(avro(outcomeWithoutFlag))).singleElement()
                .satisfies(r -> assertThat(r.deadLetter.getReason()).contains("TASK_OUTCOME without success flag"));
        assertThat(read(null)).singleElement()
                .satisfies(r -> assertThat(r.deadLetter.getReason()).isEqualTo("empty record value"));
    }

    /** The README's wire format: plain Avro binary, nothing before it. Framed values are dead letters, never events. */
    @Test
    void valuesInAFramedWireFormatBecomeDeadLetters() throws Exception {
        byte[] body = avro(event());
        byte[] confluent = new byte[body.length + 5]; // magic byte 0, 4-byte schema id, the Avro binary
        confluent[4] = 1;
        System.arraycopy(body, 0, confluent, 5, body.length);
        byte[] singleObject = UserEvent.getEncoder().encode(event()).array(); // C3 01, fingerprint, the Avro binary

        assertThat(read(confluent)).singleElement().satisfies(r -> assertThat(r.isValid()).isFalse());
        assertThat(read(singleObject)).singleElement().satisfies(r -> assertThat(r.isValid()).isFalse());
    }

    /** Bytes after the last field are ignored, as Avro's reader does: a field a newer writer appends is dropped. */
    @Test
    void aFieldAppendedByANewerWriterIsNotRead() throws Exception {
        byte[] body = avro(event());
        byte[] withAppendedString = new byte[body.length + 3];
        System.arraycopy(body, 0, withAppendedString, 0, body.length);
        withAppendedString[body.length] = 4; // a string of length 2
        withAppendedString[body.length + 1] = 'x';
        withAppendedString[body.length + 2] = 'y';

        assertThat(read(withAppendedString)).singleElement().satisfies(r -> assertThat(r.event).isEqualTo(event()));
    }
}
