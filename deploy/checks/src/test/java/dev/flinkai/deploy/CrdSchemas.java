package dev.flinkai.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.Error;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The openAPIV3Schema of each CustomResourceDefinition in a folder, applied the way the API server applies it with
 * strict field validation (kubectl's default since 1.27): a field the schema does not declare is an error, not
 * silently pruned, unless the schema says x-kubernetes-preserve-unknown-fields. apiVersion, kind and metadata are
 * the API server's own at the top.
 */
final class CrdSchemas {

    private final Map<String, Schema> byType = new HashMap<>();

    private CrdSchemas() {}

    static CrdSchemas load(Path folder) {
        CrdSchemas schemas = new CrdSchemas();
        SchemaRegistry registry = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_7);
        try (Stream<Path> files = Files.list(folder)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".yml") || f.toString().endsWith(".yaml"))
                    .sorted().toList()) {
                ObjectNode crd = Yaml.document(file);
                if (!"CustomResourceDefinition".equals(Yaml.text(crd, "kind"))) {
                    continue;
                }
                String group = Yaml.text(crd, "spec.group");
                String kind = Yaml.text(crd, "spec.names.kind");
                for (JsonNode version : crd.at("/spec/versions")) {
                    ObjectNode schema = (ObjectNode) version.at("/schema/openAPIV3Schema").deepCopy();
                    strict(schema);
                    ObjectNode properties = (ObjectNode) schema.get("properties");
                    properties.putObject("apiVersion").put("type", "string");
                    properties.putObject("kind").put("type", "string");
                    properties.putObject("metadata").put("type", "object");
                    schemas.byType.put(type(group + "/" + version.get("name").asText(), kind),
                            registry.getSchema(schema));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (schemas.byType.isEmpty()) {
            throw new IllegalStateException("No CustomResourceDefinition in " + folder);
        }
        return schemas;
    }

    boolean covers(JsonNode resource) {
        return byType.containsKey(type(resource));
    }

    /** What the API server would refuse, each as {@code <field path>: <reason>}. */
    List<String> validate(JsonNode resource) {
        Schema schema = byType.get(type(resource));
        if (schema == null) {
            throw new IllegalArgumentException("No CRD schema for " + type(resource));
        }
        List<String> problems = new ArrayList<>();
        for (Error error : schema.validate(resource)) {
            String field = error.getInstanceLocation().toString().replaceFirst("^/", "").replace('/', '.');
            if ("additionalProperties".equals(error.getKeyword()) && error.getProperty() != null) {
                String unknown = (field.isEmpty() ? "" : field + ".") + error.getProperty();
                problems.add(unknown + ": no such field in the " + Yaml.text(resource, "kind") + " schema "
                        + "(the API server refuses unknown fields)");
            } else {
                problems.add(field + ": " + error.getMessage());
            }
        }
        return problems;
    }

    private static String type(JsonNode resource) {
        return type(Yaml.text(resource, "apiVersion"), Yaml.text(resource, "kind"));
    }

    private static String type(String apiVersion, String kind) {
        return apiVersion + " " + kind;
    }

    /** Closes every object schema that lists its properties; drops the x-kubernetes-* markers JSON Schema lacks. */
    private static void strict(JsonNode node) {
        if (!(node instanceof ObjectNode schema)) {
            return;
        }
        boolean preserve = schema.path("x-kubernetes-preserve-unknown-fields").asBoolean(false);
        schema.properties().removeIf(field -> field.getKey().startsWith("x-kubernetes-"));
        if (schema.has("properties") && !schema.has("additionalProperties") && !preserve) {
            schema.put("additionalProperties", false);
        }
        schema.path("properties").forEach(CrdSchemas::strict);
        strict(schema.get("items"));
        strict(schema.get("additionalProperties"));
        strict(schema.get("not"));
        for (String combinator : List.of("anyOf", "allOf", "oneOf")) {
            schema.path(combinator).forEach(CrdSchemas::strict);
        }
    }
}
