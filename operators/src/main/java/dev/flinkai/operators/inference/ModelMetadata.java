package dev.flinkai.operators.inference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * What the training side writes next to a model ({@code <name>.json} beside {@code <name>.pt}): name, version, the class
 * labels in output order, the input width and the class priors used as the fallback answer. Other fields (metrics, ...)
 * are ignored.
 */
public final class ModelMetadata implements Serializable {
    private static final long serialVersionUID = 1L;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String name;
    private final String version;
    private final List<String> labels;
    private final int featureCount;
    private final float[] classPriors;

    public ModelMetadata(String name, String version, List<String> labels, int featureCount, float[] classPriors) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("model metadata: name is missing");
        }
        if (version == null || version.isBlank()) {
            throw new IllegalArgumentException("model metadata: version is missing");
        }
        if (labels == null || labels.isEmpty()) {
            throw new IllegalArgumentException("model metadata: labels are missing");
        }
        if (featureCount <= 0) {
            throw new IllegalArgumentException("model metadata: featureCount must be > 0, got " + featureCount);
        }
        if (classPriors == null || classPriors.length != labels.size()) {
            throw new IllegalArgumentException("model metadata: classPriors must have one value per label (" + labels.size()
                    + "), got " + (classPriors == null ? "none" : classPriors.length));
        }
        this.name = name;
        this.version = version;
        this.labels = Collections.unmodifiableList(new ArrayList<>(labels));
        this.featureCount = featureCount;
        this.classPriors = classPriors.clone();
    }

    /** Parses the metadata json; {@code source} only names the file in error messages. */
    public static ModelMetadata parse(InputStream json, String source) throws IOException {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (IOException e) {
            throw new IOException("Cannot parse model metadata " + source + ": " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new IOException("Model metadata " + source + " is not a json object");
        }
        try {
            List<String> labels = new ArrayList<>();
            for (JsonNode label : required(root, "labels", source)) {
                labels.add(label.asText());
            }
            JsonNode priorsNode = required(root, "classPriors", source);
            float[] priors = new float[priorsNode.size()];
            for (int i = 0; i < priors.length; i++) {
                priors[i] = (float) priorsNode.get(i).asDouble();
            }
            return new ModelMetadata(required(root, "name", source).asText(), required(root, "version", source).asText(),
                    labels, required(root, "featureCount", source).asInt(), priors);
        } catch (IllegalArgumentException e) {
            throw new IOException("Invalid model metadata " + source + ": " + e.getMessage(), e);
        }
    }

    public static ModelMetadata read(Path json) throws IOException {
        try (InputStream in = Files.newInputStream(json)) {
            return parse(in, json.toString());
        }
    }

    private static JsonNode required(JsonNode root, String field, String source) throws IOException {
        JsonNode node = root.get(field);
        if (node == null || node.isNull()) {
            throw new IOException("Model metadata " + source + " has no '" + field + "'");
        }
        return node;
    }

    public String name() {
        return name;
    }

    public String version() {
        return version;
    }

    public List<String> labels() {
        return labels;
    }

    public int featureCount() {
        return featureCount;
    }

    /** A copy of the class priors, in label order. */
    public float[] classPriors() {
        return classPriors.clone();
    }

    public int classCount() {
        return labels.size();
    }

    /** Index of the largest value; ties go to the lowest index. */
    public static int argmax(float[] values) {
        int best = 0;
        for (int i = 1; i < values.length; i++) {
            if (values[i] > values[best]) {
                best = i;
            }
        }
        return best;
    }

    @Override
    public String toString() {
        return "ModelMetadata{" + name + " " + version + ", labels " + labels + ", featureCount " + featureCount
                + ", classPriors " + Arrays.toString(classPriors) + "}";
    }
}
