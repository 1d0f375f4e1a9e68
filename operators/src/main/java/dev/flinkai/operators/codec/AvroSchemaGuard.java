package dev.flinkai.jobs.kafka;

import org.apache.avro.Schema;

import java.util.List;

/** The fields of an Avro record schema as "name:TYPE" strings, for the hand-written codecs to check theirs against. */
final class AvroFields {

    private AvroFields() {}

    /** E.g. {@code scores:ARRAY<FLOAT>}, {@code feature:UNION<NULL,STRING>}. */
    static List<String> of(Schema record) {
        return record.getFields().stream().map(f -> f.name() + ":" + describe(f.schema())).toList();
    }

    /**
     * Fails when {@code record} has other fields than {@code handled}, so a schema change cannot silently pass a
     * hand-written codec; {@code codec} names it and what it does, e.g. "UserEventDecoder reads".
     */
    static void requireExactly(Schema record, List<String> handled, String codec) {
        List<String> fields = of(record);
        if (!fields.equals(handled)) {
            throw new IllegalStateException("The Avro schema " + record.getFullName() + " has fields " + fields
                    + " but " + codec + " " + handled + ": update it");
        }
    }

    private static String describe(Schema s) {
        return switch (s.getType()) {
            case ARRAY -> "ARRAY<" + describe(s.getElementType()) + ">";
            case UNION -> "UNION<" + String.join(",", s.getTypes().stream().map(AvroFields::describe).toList()) + ">";
            default -> s.getType().name();
        };
    }
}
