package dev.flinkai.operators.ingest;

import dev.flinkai.schemas.DeadLetter;
import dev.flinkai.schemas.EventType;
import dev.flinkai.schemas.ModelUpdate;
import dev.flinkai.schemas.Tier;
import dev.flinkai.schemas.UserEvent;
import dev.flinkai.schemas.UserProfile;

import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.flink.api.common.serialization.SerializerConfigImpl;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.types.StringValue;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The keyed shuffle's serializer loses nothing of an event or a dead letter, and Flink picks it for ReceivedRecord. */
class ReceivedRecordSerializerTest {

    private static final ReceivedRecordSerializer SERIALIZER = ReceivedRecordSerializer.INSTANCE;

    /** Half of the strings ASCII only, the others mixed with any Unicode: both of the JDK's UTF-8 paths. */
    private static String text(Random random, int maxLength) {
        String alphabet = random.nextBoolean() ? "abcXYZ019-_ \u007f" : "abcXYZ019-_ äöü€中文😀\u0080\u00ff";
        StringBuilder s = new StringBuilder();
        int length = random.nextInt(maxLength + 1);
        for (int i = 0; i < length; i++) {
            s.appendCodePoint(alphabet.codePointAt(alphabet.offsetByCodePoints(0, random.nextInt(alphabet.codePointCount(0, alphabet.length())))));
        }
        return s.toString();
    }

    private static UserEvent randomEvent(Random random) {
        return UserEvent.newBuilder()
                .setEventId(text(random, 40))
                .setUserId(text(random, 20))
                .setSessionId(text(random, 20))
                .setEventType(EventType.values()[random.nextInt(EventType.values().length)])
                .setEventTimeMillis(random.nextLong())
                .setPriority(random.nextInt())
                .setFeature(random.nextBoolean() ? null : text(random, 10))
                .setLatencyMillis(random.nextInt())
                .setInputTokens(random.nextInt())
                .setOutputTokens(random.nextInt())
                .setSuccess(random.nextInt(3) == 0 ? null : random.nextBoolean())
                .setRating(random.nextBoolean() ? null : random.nextInt())
                .build();
    }

    private static DeadLetter randomDeadLetter(Random random) {
        byte[] payload = new byte[random.nextInt(50)];
        random.nextBytes(payload);
        return DeadLetter.newBuilder()
                .setPayload(random.nextInt(4) == 0 ? null : ByteBuffer.wrap(payload))
                .setSourceTopic(text(random, 15))
                .setSourcePartition(random.nextInt())
                .setSourceOffset(random.nextLong())
                .setReason(text(random, 60))
                .setFailedAtMillis(random.nextLong())
                .build();
    }

    private static ReceivedRecord roundTrip(TypeSerializer<ReceivedRecord> serializer, ReceivedRecord record) throws Exception {
        DataOutputSerializer out = new DataOutputSerializer(64);
        serializer.serialize(record, out);
        DataInputDeserializer in = new DataInputDeserializer(out.getCopyOfBuffer());
        ReceivedRecord read = serializer.deserialize(in);
        assertThat(in.available()).as("bytes left after reading").isZero();
        return read;
    }

    @Test
    void eventsAndDeadLettersSurviveTheRoundTripFieldForField() throws Exception {
        Random random = new Random(7);
        for (int i = 0; i < 2_000; i++) {
            long ingest = random.nextLong();
            ReceivedRecord record = i % 5 == 0
                    ? ReceivedRecord.dead(randomDeadLetter(random))
                    : ReceivedRecord.valid(randomEvent(random), ingest);
            ReceivedRecord read = roundTrip(SERIALIZER, record);
            assertThat(read.ingestTimeMillis).isEqualTo(record.ingestTimeMillis);
            assertThat(read.event).isEqualTo(record.event);
            assertThat(read.deadLetter).isEqualTo(record.deadLetter);
        }
    }

    @Test
    void profilesAndModelUpdatesSurviveTheRoundTrip() throws Exception {
        Random random = new Random(9);
        for (int i = 0; i < 200; i++) {
            UserProfile profile = UserProfile.newBuilder().setUserId(text(random, 20))
                    .setTier(Tier.values()[random.nextInt(Tier.values().length)]).setLocale(text(random, 5))
                    .setSignupTimeMillis(random.nextLong())
                    .setPreferences(random.nextBoolean() ? Map.of() : Map.of("preferred_feature", text(random, 8)))
                    .build();
            ModelUpdate update = ModelUpdate.newBuilder().setModelName(text(random, 10)).setVersion(text(random, 6))
                    .setUri(text(random, 30)).setSha256(random.nextBoolean() ? null : text(random, 64))
                    .setNotes(random.nextBoolean() ? null : text(random, 40)).setPublishedAtMillis(random.nextLong())
                    .build();
            ReceivedRecord profileRead = roundTrip(SERIALIZER, ReceivedRecord.profile(profile, i));
            assertThat(profileRead.profile).isEqualTo(profile);
            assertThat(profileRead.ingestTimeMillis).isEqualTo(i);
            assertThat(profileRead.event).isNull();
            ReceivedRecord updateRead = roundTrip(SERIALIZER, ReceivedRecord.modelUpdate(update, i));
            assertThat(updateRead.modelUpdate).isEqualTo(update);
            assertThat(SERIALIZER.copy(updateRead).modelUpdate).isEqualTo(update).isNotSameAs(update);
        }
    }

    /** Records in flight when an unaligned checkpoint was taken are read back by the next version of the job. */
    @Test
    void readsRecordsInTheEarlierStringValueFormat() throws Exception {
        Random random = new Random(11);
        for (int i = 0; i < 500; i++) {
            UserEvent e = randomEvent(random);
            DataOutputSerializer out = new DataOutputSerializer(64);
            out.writeByte(1); // format 1: strings as Flink StringValue
            out.writeLong(i);
            out.writeByte(1); // a valid event
            StringValue.writeString(e.getEventId(), out);
            StringValue.writeString(e.getUserId(), out);
            StringValue.writeString(e.getSessionId(), out);
            out.writeByte(e.getEventType().ordinal());
            out.writeLong(e.getEventTimeMillis());
            out.writeInt(e.getPriority());
            StringValue.writeString(e.getFeature(), out);
            out.writeInt(e.getLatencyMillis());
            out.writeInt(e.getInputTokens());
            out.writeInt(e.getOutputTokens());
            out.writeByte(e.getSuccess() == null ? 0 : e.getSuccess() ? 2 : 1);
            out.writeBoolean(e.getRating() != null);
            if (e.getRating() != null) {
                out.writeInt(e.getRating());
            }
            DataInputDeserializer in = new DataInputDeserializer(out.getCopyOfBuffer());
            ReceivedRecord read = SERIALIZER.deserialize(in);
            assertThat(in.available()).isZero();
            assertThat(read.ingestTimeMillis).isEqualTo(i);
            assertThat(read.event).isEqualTo(e);
        }
    }

    @Test
    void anUnknownFormatVersionIsAnError() {
        DataInputDeserializer in = new DataInputDeserializer(new byte[] {9, 0, 0, 0, 0, 0, 0, 0, 0, 1});
        assertThatThrownBy(() -> SERIALIZER.deserialize(in)).isInstanceOf(IOException.class).hasMessageContaining("version 9");
    }

    @Test
    void copiesAreEqualButIndependent() {
        ReceivedRecord record = ReceivedRecord.valid(randomEvent(new Random(1)), 42L);
        ReceivedRecord copy = SERIALIZER.copy(record);
        assertThat(copy.event).isEqualTo(record.event).isNotSameAs(record.event);
        copy.event.setUserId("changed");
        assertThat(record.event.getUserId()).isNotEqualTo("changed");
    }

    @Test
    void flinkTypeExtractionUsesItAndItsSnapshotRestoresIt() throws Exception {
        TypeSerializer<ReceivedRecord> extracted =
                TypeInformation.of(ReceivedRecord.class).createSerializer(new SerializerConfigImpl());
        assertThat(extracted).isSameAs(SERIALIZER);

        DataOutputSerializer out = new DataOutputSerializer(64);
        TypeSerializerSnapshot.writeVersionedSnapshot(out, SERIALIZER.snapshotConfiguration());
        TypeSerializerSnapshot<ReceivedRecord> restored = TypeSerializerSnapshot.readVersionedSnapshot(
                new DataInputDeserializer(out.getCopyOfBuffer()), getClass().getClassLoader());
        assertThat(restored.restoreSerializer()).isSameAs(SERIALIZER);
        assertThat(SERIALIZER.snapshotConfiguration().resolveSchemaCompatibility(restored).isCompatibleAsIs()).isTrue();
    }

    @Test
    void aSchemaWithAFieldItDoesNotWriteIsRefused() {
        ReceivedRecordSerializer.checkSchemas(UserEvent.getClassSchema(), DeadLetter.getClassSchema()); // accepted
        List<Schema.Field> fields = new ArrayList<>();
        for (Schema.Field f : UserEvent.getClassSchema().getFields()) {
            fields.add(new Schema.Field(f, f.schema()));
        }
        fields.add(new Schema.Field("locale", SchemaBuilder.builder().stringType()));
        Schema grown = Schema.createRecord("UserEvent", null, "dev.flinkai.schemas", false, fields);
        assertThatThrownBy(() -> ReceivedRecordSerializer.checkSchemas(grown, DeadLetter.getClassSchema()))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("locale")
                .hasMessageContaining("not handled: [locale:STRING]");
    }
}
