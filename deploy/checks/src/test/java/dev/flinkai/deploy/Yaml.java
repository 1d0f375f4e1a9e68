package dev.flinkai.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.constructor.SafeConstructor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * YAML documents as Jackson trees. SnakeYAML reads them, so anchors, aliases and merge keys ({@code <<: *anchor}, as
 * docker-compose files use them) are resolved as in compose itself.
 */
final class Yaml {

    static final ObjectMapper MAPPER = new ObjectMapper();

    private Yaml() {}

    static List<ObjectNode> documents(String yaml) {
        List<ObjectNode> documents = new ArrayList<>();
        for (Object document : new org.yaml.snakeyaml.Yaml(new SafeConstructor(new LoaderOptions())).loadAll(yaml)) {
            if (document instanceof Map<?, ?>) {
                documents.add(MAPPER.valueToTree(document));
            }
        }
        return documents;
    }

    static ObjectNode document(Path file) {
        try {
            List<ObjectNode> documents = documents(Files.readString(file));
            if (documents.size() != 1) {
                throw new IllegalStateException(file + " holds " + documents.size() + " YAML documents, not one");
            }
            return documents.get(0);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The text at {@code path} (dot-separated fields) or null. */
    static String text(JsonNode node, String path) {
        JsonNode value = at(node, path);
        return value == null || value.isNull() || value.isContainerNode() ? null : value.asText();
    }

    static JsonNode at(JsonNode node, String path) {
        JsonNode current = node;
        for (String field : path.split("\\.")) {
            if (current == null) {
                return null;
            }
            current = current.get(field);
        }
        return current;
    }
}
