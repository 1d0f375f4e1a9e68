package dev.flinkai.jobs.kafka;

import dev.flinkai.schemas.Prediction;

import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static dev.flinkai.jobs.kafka.AvroTestRecords.avro;
import static dev.flinkai.jobs.kafka.AvroTestRecords.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What readers of the predictions topic decode must not depend on which writer the job used. */
class PredictionSerializationSchemaTest {

    private static final float[] SPECIAL = {0f, -0f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
            Float.MIN_VALUE, Float.MAX_VALUE, 1e-7f, 0.25f};
    private static final long[] EDGES = {0, -1, 1, 63, 64, -64, -65, 8191, 8192, Integer.MAX_VALUE, Integer.MIN_VALUE,
            Long.MAX_VALUE, Long.MIN_VALUE};

    private static long aLong(Random random) {
        return random.nextBoolean() ? EDGES[random.nextInt(EDGES.length)] : random.nextLong() >> random.nextInt(64);
    }

    private static Prediction randomPrediction(Random random) {
        List<Float> scores = new ArrayList<>();
        int n = random.nextInt(7);
        for (int i = 0; i < n; i++) {
            scores.add(random.nextInt(4) == 0 ? SPECIAL[random.nextInt(SPECIAL.length)] : random.nextFloat());
        }
        return Prediction.newBuilder()
                .setEventId(text(random, 40))
                .setUserId(text(random, 20))
                .setModelName(text(random, 20))
                .setModelVersion(text(random, 8))
                .setScores(scores)
                .setLabel(text(random, 12))
                .setFallback(random.nextBoolean())
                .setFallbackReason(random.nextBoolean() ? null : text(random, 300))
                .setEventTimeMillis(aLong(random))
                .setIngestTimeMillis(aLong(random))
                .setPredictTimeMillis(aLong(random))
                .build();
    }

    @Test
    void writesExactlyTheBytesOfAvrosWriterAndReadersDecodeThem() throws Exception {
        PredictionSerializationSchema schema = new PredictionSerializationSchema();
        SpecificDatumReader<Prediction> reader = new SpecificDatumReader<>(Prediction.class);
        Random random = new Random(11);
        for (int i = 0; i < 5_000; i++) {
            Prediction p = randomPrediction(random);
            byte[] ours = schema.serialize(p);
            assertThat(ours).as("prediction %d: %s", i, p).isEqualTo(avro(p));
            assertThat(reader.read(null, DecoderFactory.get().binaryDecoder(ours, null))).isEqualTo(p);
        }
    }

    @Test
    void aSchemaWithAFieldItDoesNotWriteIsRefused() {
        List<Schema.Field> fields = new ArrayList<>();
        for (Schema.Field f : Prediction.getClassSchema().getFields()) {
            fields.add(new Schema.Field(f, f.schema()));
        }
        fields.add(new Schema.Field("explanation", SchemaBuilder.builder().stringType()));
        Schema grown = Schema.createRecord("Prediction", null, "dev.flinkai.schemas", false, fields);
        assertThatThrownBy(() -> PredictionSerializationSchema.checkSchema(grown))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("explanation")
                .hasMessageContaining("update it");
    }
}
