package dev.flinkai.operators.codec;

import dev.flinkai.schemas.EventType;
import dev.flinkai.schemas.UserEvent;

import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static dev.flinkai.operators.testing.AvroTestRecords.avro;
import static dev.flinkai.operators.testing.AvroTestRecords.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The source's decoder reads what Avro reads, and malformed bytes only ever make it throw an IOException. */
class UserEventDecoderTest {

    private static final long[] EDGES = {0, -1, 1, 63, 64, -65, Integer.MAX_VALUE, Integer.MIN_VALUE, Long.MAX_VALUE,
            Long.MIN_VALUE};

    private static int anInt(Random random) {
        return random.nextBoolean() ? (int) EDGES[random.nextInt(7)] : random.nextInt() >> random.nextInt(32);
    }

    public static UserEvent randomEvent(Random random) {
        return UserEvent.newBuilder()
                .setEventId(text(random, 40))
                .setUserId(text(random, 20))
                .setSessionId(text(random, 20))
                .setEventType(EventType.values()[random.nextInt(EventType.values().length)])
                .setEventTimeMillis(random.nextBoolean() ? EDGES[random.nextInt(EDGES.length)] : random.nextLong())
                .setPriority(anInt(random))
                .setFeature(random.nextBoolean() ? null : text(random, 10))
                .setLatencyMillis(anInt(random))
                .setInputTokens(anInt(random))
                .setOutputTokens(anInt(random))
                .setSuccess(random.nextInt(3) == 0 ? null : random.nextBoolean())
                .setRating(random.nextBoolean() ? null : anInt(random))
                .build();
    }

    @Test
    void readsWhatAvroWroteLikeAvrosReader() throws Exception {
        UserEventDecoder decoder = new UserEventDecoder();
        SpecificDatumReader<UserEvent> reader = new SpecificDatumReader<>(UserEvent.class);
        Random random = new Random(5);
        for (int i = 0; i < 5_000; i++) {
            UserEvent event = randomEvent(random);
            byte[] bytes = avro(event);
            UserEvent ours = decoder.decode(bytes);
            assertThat(ours).as("event %d", i).isEqualTo(event)
                    .isEqualTo(reader.read(null, DecoderFactory.get().binaryDecoder(bytes, null)));
        }
    }

    @Test
    void malformedBytesThrowIOExceptionsAndNothingElse() throws Exception {
        UserEventDecoder decoder = new UserEventDecoder();
        Random random = new Random(9);
        int refused = 0;
        for (int i = 0; i < 20_000; i++) {
            byte[] valid = avro(randomEvent(random));
            byte[] bytes = switch (i % 3) {
                case 0 -> Arrays.copyOf(valid, random.nextInt(valid.length)); // truncated
                case 1 -> { // a few bytes flipped
                    byte[] b = valid.clone();
                    for (int k = 0; k < 3; k++) {
                        b[random.nextInt(b.length)] = (byte) random.nextInt(256);
                    }
                    yield b;
                }
                default -> { // noise
                    byte[] b = new byte[random.nextInt(64)];
                    random.nextBytes(b);
                    yield b;
                }
            };
            try {
                decoder.decode(bytes);
            } catch (IOException expected) {
                refused++;
            }
        }
        assertThat(refused).as("malformed inputs refused").isGreaterThan(6_666); // at least every truncated one
        assertThatThrownBy(() -> decoder.decode(new byte[] {(byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80,
                (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, 0x01}))
                .isInstanceOf(IOException.class).hasMessageContaining("malformed variable-length integer");
        assertThatThrownBy(() -> decoder.decode(new byte[] {0x7F})) // a negative string length
                .isInstanceOf(IOException.class).hasMessageContaining("length");
    }

    @Test
    void aSchemaWithAFieldItDoesNotReadIsRefused() {
        List<Schema.Field> fields = new ArrayList<>();
        for (Schema.Field f : UserEvent.getClassSchema().getFields()) {
            fields.add(new Schema.Field(f, f.schema()));
        }
        fields.add(new Schema.Field("locale", SchemaBuilder.builder().stringType()));
        Schema grown = Schema.createRecord("UserEvent", null, "dev.flinkai.schemas", false, fields);
        assertThatThrownBy(() -> UserEventDecoder.checkSchema(grown))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("locale");
    }
}
