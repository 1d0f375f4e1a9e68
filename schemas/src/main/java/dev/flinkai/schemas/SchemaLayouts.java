package dev.flinkai.schemas;

import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Every layout a record type has had on the wire, kept as {@code layouts/<Name>.<n>.avsc} beside this class (1 = the
 * first; the newest is the current schema, which {@code SchemaLayoutsTest} holds equal). A record carries no schema, so
 * a reader of a topic that holds records of an earlier release (an upgrade that added a field) decodes those with
 * their own layout. When a schema changes, copy the new version here as the next layout.
 */
public final class SchemaLayouts {

    private SchemaLayouts() {}

    /** The layouts of {@code current}'s record before it, newest first; empty for a type that never changed. */
    public static List<Schema> earlier(Schema current) {
        List<Schema> layouts = new ArrayList<>();
        for (Schema layout : all(current.getName())) {
            if (!sameLayout(layout, current)) {
                layouts.add(layout);
            }
        }
        Collections.reverse(layouts);
        return layouts;
    }

    /** Whether records of the two schemas are the same bytes: the same Parsing Canonical Form (no docs, defaults, props). */
    public static boolean sameLayout(Schema a, Schema b) {
        return SchemaNormalization.toParsingForm(a).equals(SchemaNormalization.toParsingForm(b));
    }

    /** The layouts of the record named {@code name}, oldest first. */
    public static List<Schema> all(String name) {
        List<Schema> layouts = new ArrayList<>();
        for (int n = 1; ; n++) {
            try (InputStream in = SchemaLayouts.class.getResourceAsStream("layouts/" + name + "." + n + ".avsc")) {
                if (in == null) {
                    return layouts;
                }
                layouts.add(new Schema.Parser().parse(in));
            } catch (IOException e) {
                throw new UncheckedIOException("layout " + n + " of " + name, e);
            }
        }
    }
}
