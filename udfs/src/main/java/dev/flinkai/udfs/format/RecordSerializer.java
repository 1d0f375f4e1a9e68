package dev.flinkai.udfs.format;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.formats.avro.RowDataToAvroConverters;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.logical.RowType;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.List;
import java.util.Objects;

/**
 * The table's row to plain Avro binary of one of the project's records, written with its generated schema: what
 * the project's Java consumers ({@code AvroRecordCodec}, the Kafka sources) read. Fields without a column get their
 * default; a STRING column for an enum field must hold one of the enum's symbols.
 */
final class RecordSerializer implements SerializationSchema<RowData> {
    private static final long serialVersionUID = 1L;

    private final String record;
    private final RowType columns;

    private transient Schema schema;
    private transient GenericDatumWriter<GenericRecord> writer;
    private transient RowData.FieldGetter[] getters;
    private transient RowDataToAvroConverters.RowDataToAvroConverter[] converters;
    private transient int[] positions;
    private transient ByteArrayOutputStream bytes;
    private transient BinaryEncoder encoder;

    RecordSerializer(String record, RowType columns) {
        this.record = record;
        this.columns = columns;
    }

    @Override
    public void open(InitializationContext context) {
        schema = ProjectRecords.schema(record);
        RecordMapping.checkWritable(schema, columns);
        writer = new GenericDatumWriter<>(schema);
        List<RowType.RowField> fields = columns.getFields();
        getters = new RowData.FieldGetter[fields.size()];
        converters = new RowDataToAvroConverters.RowDataToAvroConverter[fields.size()];
        positions = new int[fields.size()];
        for (int i = 0; i < fields.size(); i++) {
            Schema.Field field = schema.getField(fields.get(i).getName());
            positions[i] = field.pos();
            getters[i] = RowData.createFieldGetter(fields.get(i).getType(), i);
            converters[i] = nonNull(field.schema()).getType() == Schema.Type.ENUM
                    ? RecordSerializer::enumSymbol
                    : RowDataToAvroConverters.createConverter(fields.get(i).getType());
        }
        bytes = new ByteArrayOutputStream(256);
    }

    @Override
    public byte[] serialize(RowData row) {
        GenericData.Record out = new GenericData.Record(schema);
        for (Schema.Field f : schema.getFields()) {
            if (f.hasDefaultValue()) {
                out.put(f.pos(), GenericData.get().getDefaultValue(f));
            }
        }
        for (int i = 0; i < getters.length; i++) {
            Object value = getters[i].getFieldOrNull(row);
            Schema fieldSchema = schema.getFields().get(positions[i]).schema();
            out.put(positions[i], value == null ? null : converters[i].convert(fieldSchema, value));
        }
        try {
            bytes.reset();
            encoder = EncoderFactory.get().binaryEncoder(bytes, encoder);
            writer.write(out, encoder);
            encoder.flush();
            return bytes.toByteArray();
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("Cannot write the row as a " + record + ": " + e.getMessage(), e);
        }
    }

    private static Object enumSymbol(Schema field, Object value) {
        Schema enumSchema = nonNull(field);
        String symbol = value.toString();
        if (!enumSchema.hasEnumSymbol(symbol)) {
            throw new IllegalArgumentException("'" + symbol + "' is not a symbol of the enum " + enumSchema.getName()
                    + " " + enumSchema.getEnumSymbols());
        }
        return new GenericData.EnumSymbol(enumSchema, symbol);
    }

    private static Schema nonNull(Schema s) {
        return s.getType() == Schema.Type.UNION
                ? s.getTypes().stream().filter(t -> t.getType() != Schema.Type.NULL).findFirst().orElse(s) : s;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RecordSerializer r && record.equals(r.record) && columns.equals(r.columns);
    }

    @Override
    public int hashCode() {
        return Objects.hash(record, columns);
    }
}
