package dev.flinkai.schemas;

import org.apache.avro.Schema;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The layouts readers fall back to ({@link SchemaLayouts}) are complete: a schema that changed since the release has
 * its released and its current version among them, the newest is the current schema, and each layout only appends
 * fields with defaults to the one before (so a record of one layout never reads as another).
 */
class SchemaLayoutsTest {

    private static final Path CURRENT = Path.of("src", "main", "avro");

    @Test
    void aSchemaThatChangedSinceTheReleaseKeepsEveryLayoutAndTheNewestIsTheCurrent() throws IOException {
        Map<String, Schema> current = SchemaCompatibilityTest.parseAll(CURRENT);
        Map<String, Schema> released = SchemaCompatibilityTest.parseAll(
                Path.of("src", "test", "resources", "released", SchemaCompatibilityTest.RELEASED));
        List<String> problems = new ArrayList<>();
        current.forEach((name, schema) -> {
            List<Schema> layouts = SchemaLayouts.all(name);
            Schema release = released.get(name);
            if (release != null && !SchemaLayouts.sameLayout(release, schema)
                    && layouts.stream().noneMatch(l -> SchemaLayouts.sameLayout(l, release))) {
                problems.add(name + " changed since release " + SchemaCompatibilityTest.RELEASED
                        + " but its released layout is not in layouts/");
            }
            if (!layouts.isEmpty() && !SchemaLayouts.sameLayout(layouts.get(layouts.size() - 1), schema)) {
                problems.add(name + ": the newest of layouts/" + name + ".<n>.avsc is not src/main/avro/" + name
                        + ".avsc: copy the schema there as layout " + (layouts.size() + 1));
            }
        });
        assertThat(problems).isEmpty();
        assertThat(SchemaLayouts.all("Prediction")).hasSize(3);
    }

    @Test
    void eachLayoutAppendsFieldsWithDefaultsToTheOneBefore() {
        List<Schema> layouts = SchemaLayouts.all("Prediction");
        for (int i = 1; i < layouts.size(); i++) {
            List<Schema.Field> before = layouts.get(i - 1).getFields();
            List<Schema.Field> after = layouts.get(i).getFields();
            assertThat(after.size()).as("layout %d adds fields to %d", i + 1, i).isGreaterThan(before.size());
            for (int f = 0; f < after.size(); f++) {
                Schema.Field field = after.get(f);
                if (f < before.size()) {
                    assertThat(field.name()).as("field %d of layout %d", f, i + 1).isEqualTo(before.get(f).name());
                    assertThat(field.schema()).as(field.name()).isEqualTo(before.get(f).schema());
                } else {
                    assertThat(field.hasDefaultValue()).as("%s, added in layout %d, has a default", field.name(), i + 1)
                            .isTrue();
                }
            }
        }
    }

    @Test
    void earlierIsNewestFirstWithoutTheCurrent() {
        List<Schema> earlier = SchemaLayouts.earlier(Prediction.getClassSchema());
        assertThat(earlier).hasSize(2);
        assertThat(earlier.get(0).getField("servedBy")).isNotNull();
        assertThat(earlier.get(0).getField("contextEvents")).isNull();
        assertThat(earlier.get(1).getField("servedBy")).isNull();
        assertThat(SchemaLayouts.earlier(UserEvent.getClassSchema())).isEmpty();
    }
}
