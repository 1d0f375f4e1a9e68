package dev.flinkai.operators.ingest;

import dev.flinkai.schemas.ModelUpdate;
import dev.flinkai.schemas.Tier;
import dev.flinkai.schemas.UserProfile;

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

/** Model updates and profiles from Kafka: good ones pass, bad ones become dead letters naming what is wrong. */
class ControlRecordDeserializerTest {

    private static final String SHA = "ab".repeat(32);

    private static ReceivedRecord read(ControlRecordDeserializer<?> deserializer, byte[] value) throws Exception {
        ConsumerRecord<byte[], byte[]> record = new ConsumerRecord<>("model-updates", 0, 7L, 1_700_000_000_000L,
                TimestampType.CREATE_TIME, 0, value == null ? 0 : value.length, null, value, new RecordHeaders(),
                Optional.empty());
        List<ReceivedRecord> out = new ArrayList<>();
        deserializer.deserialize(record, new Collector<>() {
            @Override
            public void collect(ReceivedRecord r) {
                out.add(r);
            }

            @Override
            public void close() {}
        });
        assertThat(out).hasSize(1);
        return out.get(0);
    }

    private static ModelUpdate.Builder update() {
        return ModelUpdate.newBuilder().setModelName("next-event-mlp").setVersion("2.0.0")
                .setUri("s3://models/next-event/2.0.0/model.pt").setSha256(SHA);
    }

    private static String deadReason(byte[] value) throws Exception {
        ReceivedRecord r = read(ControlRecordDeserializer.modelUpdates("next-event-mlp"), value);
        assertThat(r.isValid()).isFalse();
        assertThat(r.deadLetter.getSourceTopic()).isEqualTo("model-updates");
        assertThat(r.deadLetter.getSourceOffset()).isEqualTo(7L);
        return r.deadLetter.getReason();
    }

    @Test
    void aGoodUpdatePassesWithItsKafkaTimestamp() throws Exception {
        ModelUpdate good = update().build();
        ReceivedRecord r = read(ControlRecordDeserializer.modelUpdates("next-event-mlp"), avro(good));
        assertThat(r.modelUpdate).isEqualTo(good);
        assertThat(r.ingestTimeMillis).isEqualTo(1_700_000_000_000L);
        ModelUpdate endpoint = update().setUri("http://models:8000/v2/models/next-event-mlp/versions/2").setSha256(null)
                .build();
        assertThat(read(ControlRecordDeserializer.modelUpdates("next-event-mlp"), avro(endpoint)).modelUpdate)
                .as("an endpoint's version needs no checksum").isEqualTo(endpoint);
    }

    @Test
    void malformedUpdatesBecomeDeadLettersWithTheReason() throws Exception {
        assertThat(deadReason("not avro at all".getBytes())).startsWith("not a ModelUpdate in Avro binary");
        assertThat(deadReason(new byte[0])).isEqualTo("empty record value");
        assertThat(deadReason(avro(update().setModelName("churn").build())))
                .isEqualTo("invalid ModelUpdate: unknown model name 'churn': this job serves 'next-event-mlp'");
        assertThat(deadReason(avro(update().setUri(" ").build())))
                .isEqualTo("invalid ModelUpdate: a model update without a uri");
        assertThat(deadReason(avro(update().setVersion("").build())))
                .isEqualTo("invalid ModelUpdate: a model update without a version");
        assertThat(deadReason(avro(update().setSha256(null).build())))
                .contains("needs the file's SHA-256 as 64 hex digits, got none");
        assertThat(deadReason(avro(update().setSha256("xyz").build()))).contains("got 'xyz'");
    }

    @Test
    void profilesPassAndOnesWithoutAUserAreDeadLetters() throws Exception {
        UserProfile profile = UserProfile.newBuilder().setUserId("user-1").setTier(Tier.PRO).setLocale("en-US")
                .setSignupTimeMillis(1L).build();
        assertThat(read(ControlRecordDeserializer.profiles(), avro(profile)).profile).isEqualTo(profile);
        ReceivedRecord noUser = read(ControlRecordDeserializer.profiles(), avro(UserProfile.newBuilder(profile)
                .setUserId("").build()));
        assertThat(noUser.deadLetter.getReason()).isEqualTo("invalid UserProfile: a profile without a user id");
    }
}
