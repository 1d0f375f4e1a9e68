package dev.flinkai.operators.codec;

import org.apache.avro.Schema;

import java.util.List;

/**
 * The one check every hand-written codec of an Avro record runs when it is created: the record's schema must have
 * exactly the fields, in order and of the types, the codec handles. A new field then fails the codec at start, naming
 * the field, instead of being dropped or misread.
 */
public final class AvroSchemaGuard {

    private AvroSchemaGuard() {}

    /** The fields as "name:TYPE", e.g. {@code scores:ARRAY<FLOAT>}, {@code feature:UNION<NULL,STRING>}. */
    public static List<String> fieldsOf(Schema record) {
        return record.getFields().stream().map(f -> f.name() + ":" + describe(f.schema())).toList();
    }

    /** @param codec names the codec and what it does with the fields, e.g. "UserEventDecoder reads" */
    public static void requireExactly(Schema record, List<String> handled, String codec) {
        List<String> fields = fieldsOf(record);
        if (!fields.equals(handled)) {
            List<String> unknown = fields.stream().filter(f -> !handled.contains(f)).toList();
            List<String> gone = handled.stream().filter(f -> !fields.contains(f)).toList();
            throw new IllegalStateException("The Avro schema " + record.getFullName() + " has fields " + fields + " but "
                    + codec + " " + handled + (unknown.isEmpty() ? "" : "; not handled: " + unknown)
                    + (gone.isEmpty() ? "" : "; no longer in the schema: " + gone)
                    + ": update the codec (and its format version, if it has one)");
        }
    }

    private static String describe(Schema s) {
        return switch (s.getType()) {
            case ARRAY -> "ARRAY<" + describe(s.getElementType()) + ">";
            case UNION -> "UNION<" + String.join(",", s.getTypes().stream().map(AvroSchemaGuard::describe).toList()) + ">";
            default -> s.getType().name();
        };
    }
}
