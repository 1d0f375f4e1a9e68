package dev.flinkai.schemas;

import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumWriter;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The upgrade gate of the wire format: every schema in src/main/avro must be fully compatible with its version in the
 * last release (src/test/resources/released/&lt;release&gt;/): readers of the new schema read records of the old, and
 * readers of the old schema read records of the new, as consumers and producers are not upgraded together. A break
 * fails here naming the schema and the field.
 */
class SchemaCompatibilityTest {

    static final String RELEASED = "b7b4836";

    @Test
    void everySchemaReadsAndIsReadByItsReleasedVersion() throws IOException {
        Map<String, Schema> current = parseAll(Path.of("src", "main", "avro"));
        Map<String, Schema> released = parseAll(Path.of("src", "test", "resources", "released", RELEASED));
        assertThat(current.keySet()).as("schemas of the release are still there").containsAll(released.keySet());
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, Schema> old : released.entrySet()) {
            problems.addAll(incompatibilities(old.getValue(), current.get(old.getKey())));
        }
        assertThat(problems).as("incompatible with release " + RELEASED).isEmpty();
    }

    /** The fields added since (servedBy, contextEvents) are invisible to a consumer that still has the released schema. */
    @Test
    void aReaderOfTheReleasedSchemaReadsAPredictionOfThisVersion() throws IOException {
        Schema old = parseAll(Path.of("src", "test", "resources", "released", RELEASED)).get("Prediction");
        Prediction p = new Prediction("e1", "u1", "m", "2", List.of(0.5f, 0.5f), "QUERY", true, "remote HTTP 503",
                1L, 2L, 3L, "local", 7L);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(bytes, null);
        new SpecificDatumWriter<>(Prediction.class).write(p, encoder);
        encoder.flush();

        GenericRecord read = new GenericDatumReader<GenericRecord>(Prediction.getClassSchema(), old)
                .read(null, DecoderFactory.get().binaryDecoder(bytes.toByteArray(), null));
        assertThat(read.getSchema().getField("servedBy")).isNull();
        assertThat(read.getSchema().getField("contextEvents")).isNull();
        assertThat(read.get("eventId").toString()).isEqualTo("e1");
        assertThat(read.get("fallbackReason").toString()).isEqualTo("remote HTTP 503");
        assertThat(read.get("predictTimeMillis")).isEqualTo(3L);
    }

    /** What the gate says about a change that breaks readers: the schema, the field and why. */
    @Test
    void anIncompatibleChangeIsNamed() throws IOException {
        Schema released = parseAll(Path.of("src", "test", "resources", "released", RELEASED)).get("UserEvent");
        List<Schema.Field> fields = new ArrayList<>();
        for (Schema.Field f : released.getFields()) {
            fields.add(f.name().equals("latencyMillis")
                    ? new Schema.Field(f.name(), Schema.create(Schema.Type.STRING), f.doc(), "0")
                    : new Schema.Field(f, f.schema()));
        }
        Schema changed = Schema.createRecord(released.getName(), released.getDoc(), released.getNamespace(), false, fields);
        assertThat(incompatibilities(released, changed)).isNotEmpty()
                .allSatisfy(p -> assertThat(p).contains("UserEvent").contains("latencyMillis"));
    }

    /** Both directions: new reader of old data, old reader of new data. */
    static List<String> incompatibilities(Schema released, Schema current) {
        List<String> problems = new ArrayList<>();
        check(current, released, "a reader of the new " + current.getName() + " cannot read records of the released one",
                problems);
        check(released, current, "a reader of the released " + released.getName() + " cannot read records of the new one",
                problems);
        return problems;
    }

    private static void check(Schema reader, Schema writer, String what, List<String> problems) {
        for (SchemaCompatibility.Incompatibility i : SchemaCompatibility.checkReaderWriterCompatibility(reader, writer)
                .getResult().getIncompatibilities()) {
            problems.add(what + ": field " + fieldAt(reader, i.getLocation()) + " (" + i.getType() + ": " + i.getMessage()
                    + ")");
        }
    }

    /** The field a location such as {@code /fields/7/type} points at, by name. */
    private static String fieldAt(Schema record, String location) {
        String[] parts = location.split("/");
        if (parts.length > 2 && parts[1].equals("fields") && record.getType() == Schema.Type.RECORD) {
            int index = Integer.parseInt(parts[2]);
            if (index < record.getFields().size()) {
                return record.getFields().get(index).name() + " at " + location;
            }
        }
        return location;
    }

    /** The .avsc files of a folder, EventType first (the others refer to it), by record name. */
    static Map<String, Schema> parseAll(Path dir) throws IOException {
        Schema.Parser parser = new Schema.Parser();
        Map<String, Schema> schemas = new LinkedHashMap<>();
        List<Path> files;
        try (Stream<Path> list = Files.list(dir)) {
            files = list.filter(f -> f.toString().endsWith(".avsc"))
                    .sorted((a, b) -> a.getFileName().toString().startsWith("EventType") ? -1
                            : b.getFileName().toString().startsWith("EventType") ? 1 : a.compareTo(b))
                    .toList();
        }
        for (Path f : files) {
            Schema s = parser.parse(f.toFile());
            schemas.put(s.getName(), s);
        }
        return schemas;
    }
}
