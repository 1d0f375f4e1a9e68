package dev.flinkai.operators.codec;

import dev.flinkai.schemas.AvroCoders;
import dev.flinkai.schemas.Prediction;
import dev.flinkai.schemas.SchemaLayouts;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A reader of predictions reads those of every release: earlier layouts, the current one and a later one. With the
 * generated coders on, as in the jobs.
 */
class AvroRecordCodecTest {

    @BeforeAll
    static void generatedCoders() {
        AvroCoders.enable();
    }

    private final AvroRecordCodec<Prediction> codec = new AvroRecordCodec<>(Prediction.class);

    @Test
    void readsAPredictionOfTheFirstLayoutWithTheAddedFieldsAtTheirDefaults() throws IOException {
        Prediction read = codec.decode(write(SchemaLayouts.all("Prediction").get(0), null));
        assertThat(read.getEventId()).isEqualTo("e1");
        assertThat(read.getScores()).containsExactly(0.25f, 0.75f);
        assertThat(read.getFallbackReason()).isEqualTo("remote HTTP 503");
        assertThat(read.getPredictTimeMillis()).isEqualTo(3L);
        assertThat(read.getServedBy()).isNull();
        assertThat(read.getContextEvents()).isNull();
    }

    @Test
    void readsAPredictionOfTheLayoutBeforeContextEvents() throws IOException {
        Prediction read = codec.decode(write(SchemaLayouts.all("Prediction").get(1), "remote"));
        assertThat(read.getServedBy()).isEqualTo("remote");
        assertThat(read.getContextEvents()).isNull();
        assertThat(read.getPredictTimeMillis()).isEqualTo(3L);
    }

    @Test
    void readsTheCurrentLayoutAndALaterOneThatAppendsAField() throws IOException {
        Prediction p = new Prediction("e1", "u1", "m", "2", List.of(0.25f, 0.75f), "QUERY", true, "remote HTTP 503",
                1L, 2L, 3L, "local", 7L);
        assertThat(codec.decode(codec.encode(p))).isEqualTo(p);

        Schema current = Prediction.getClassSchema();
        List<Schema.Field> fields = new ArrayList<>();
        current.getFields().forEach(f -> fields.add(new Schema.Field(f, f.schema())));
        fields.add(new Schema.Field("addedLater", Schema.create(Schema.Type.LONG), null, 0L));
        Schema later = Schema.createRecord(current.getName(), null, current.getNamespace(), false, fields);
        GenericRecord record = new GenericData.Record(later);
        current.getFields().forEach(f -> record.put(f.name(), p.get(f.name())));
        record.put("addedLater", 99L);
        assertThat(codec.decode(encode(later, record))).isEqualTo(p);
    }

    @Test
    void bytesOfNoLayoutAreStillAnError() {
        assertThatThrownBy(() -> codec.decode(new byte[] {2, 'x'})).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> codec.decode(new byte[0])).isInstanceOf(IOException.class);
    }

    private static byte[] write(Schema layout, String servedBy) throws IOException {
        GenericRecord record = new GenericData.Record(layout);
        record.put("eventId", "e1");
        record.put("userId", "u1");
        record.put("modelName", "m");
        record.put("modelVersion", "2");
        record.put("scores", List.of(0.25f, 0.75f));
        record.put("label", "QUERY");
        record.put("fallback", true);
        record.put("fallbackReason", "remote HTTP 503");
        record.put("eventTimeMillis", 1L);
        record.put("ingestTimeMillis", 2L);
        record.put("predictTimeMillis", 3L);
        if (layout.getField("servedBy") != null) {
            record.put("servedBy", servedBy);
        }
        return encode(layout, record);
    }

    private static byte[] encode(Schema schema, GenericRecord record) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(bytes, null);
        new GenericDatumWriter<GenericRecord>(schema).write(record, encoder);
        encoder.flush();
        return bytes.toByteArray();
    }
}
