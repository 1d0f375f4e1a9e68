package dev.flinkai.udfs.format;

import org.apache.avro.Schema;
import org.apache.flink.formats.avro.typeutils.AvroSchemaConverter;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.LogicalTypeRoot;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.table.types.logical.utils.LogicalTypeChecks;

import java.util.ArrayList;
import java.util.List;

/**
 * How a table's columns map onto a record's fields: by name, each column to the field of that name, with a type that
 * holds the field's values (an Avro enum is a STRING, a long may also be a TIMESTAMP(3): epoch millis as UTC). Checked
 * when the planner creates the format, so a wrong table fails before the job runs, naming the column.
 */
final class RecordMapping {

    private RecordMapping() {}

    /** A reader schema with the table's columns, in their order: Avro's schema resolution then does the projection. */
    static Schema readerSchema(Schema record, RowType columns) {
        check(record, columns);
        List<Schema.Field> fields = new ArrayList<>();
        for (String column : columns.getFieldNames()) {
            Schema.Field f = record.getField(column);
            fields.add(new Schema.Field(f, f.schema()));
        }
        return Schema.createRecord(record.getName(), record.getDoc(), record.getNamespace(), false, fields);
    }

    /** Every column is a field of the record; every field without a column has a default to write. */
    static void checkWritable(Schema record, RowType columns) {
        check(record, columns);
        List<String> missing = new ArrayList<>();
        for (Schema.Field f : record.getFields()) {
            if (!columns.getFieldNames().contains(f.name()) && !f.hasDefaultValue()) {
                missing.add(f.name());
            }
        }
        if (!missing.isEmpty()) {
            throw new ValidationException("The table has no column for the field(s) " + missing + " of the record "
                    + record.getName() + ", which have no default: add the columns");
        }
    }

    static void check(Schema record, RowType columns) {
        for (RowType.RowField column : columns.getFields()) {
            Schema.Field field = record.getField(column.getName());
            if (field == null) {
                throw new ValidationException("The column '" + column.getName() + "' is not a field of the record "
                        + record.getName() + " (format " + FlinkAiAvroFormatFactory.IDENTIFIER + "); its fields are "
                        + record.getFields().stream().map(Schema.Field::name).toList());
            }
            LogicalType fieldType = AvroSchemaConverter.convertToDataType(field.schema().toString()).getLogicalType();
            if (!holds(fieldType, column.getType())) {
                throw new ValidationException("The column '" + column.getName() + "' " + column.getType()
                        + " cannot hold the field " + record.getName() + "." + field.name() + " (" + fieldType
                        + "): declare it as " + fieldType.copy(true).asSummaryString());
            }
        }
    }

    /** Same type up to nullability, element by element; a long field also fits a TIMESTAMP(3) (epoch millis as UTC). */
    private static boolean holds(LogicalType field, LogicalType column) {
        if (field.is(LogicalTypeRoot.BIGINT) && column.is(LogicalTypeRoot.TIMESTAMP_WITHOUT_TIME_ZONE)) {
            return LogicalTypeChecks.getPrecision(column) == 3;
        }
        if (field.getTypeRoot() != column.getTypeRoot() || field.getChildren().size() != column.getChildren().size()) {
            return false;
        }
        for (int i = 0; i < field.getChildren().size(); i++) {
            if (!holds(field.getChildren().get(i), column.getChildren().get(i))) {
                return false;
            }
        }
        return true;
    }
}
