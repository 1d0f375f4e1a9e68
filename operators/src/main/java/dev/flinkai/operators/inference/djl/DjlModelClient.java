package dev.flinkai.operators.inference;

import dev.flinkai.schemas.Prediction;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * A model as one subtask serves it: fetched into a directory of its own, loaded into DJL, and the knowledge of how to
 * turn scores, or a failure, into a {@link Prediction}. Shared by every inference function so that they load models
 * and answer the same way.
 */
public final class ServedModel implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ServedModel.class);

    private final DjlScorer scorer;
    private final ModelMetadata metadata;
    private final Path downloadDir;
    private final float[] priors;
    private final String priorLabel;

    private ServedModel(DjlScorer scorer, ModelMetadata metadata, Path downloadDir) {
        this.scorer = scorer;
        this.metadata = metadata;
        this.downloadDir = downloadDir;
        this.priors = metadata.classPriors();
        this.priorLabel = metadata.labels().get(ModelMetadata.argmax(priors));
    }

    /** Fetches {@code settings.modelUri()} into a fresh directory named after {@code owner} and loads it. */
    public static ServedModel open(InferenceSettings settings, String owner) throws Exception {
        Path downloadDir = settings.downloadDir() != null
                ? Files.createTempDirectory(Files.createDirectories(Path.of(settings.downloadDir())), owner + "-")
                : Files.createTempDirectory("flinkai-model-" + owner + "-");
        try {
            ModelArtifacts.LocalModel local = ModelArtifacts.fetch(settings.modelUri(), settings.s3Access(), downloadDir);
            return new ServedModel(DjlScorer.load(local), local.metadata(), downloadDir);
        } catch (Exception | Error e) {
            deleteRecursively(downloadDir);
            throw e;
        }
    }

    public DjlScorer scorer() {
        return scorer;
    }

    public ModelMetadata metadata() {
        return metadata;
    }

    /** Null when the request can be scored, else why not. */
    public String invalidFeatures(ScoringRequest request) {
        if (request.features != null && request.features.length == metadata.featureCount()) {
            return null;
        }
        return "invalid features: expected " + metadata.featureCount() + " values, got "
                + (request.features == null ? "none" : request.features.length);
    }

    public Prediction prediction(ScoringRequest request, float[] scores, long nowMillis) {
        return new Prediction(request.eventId, request.userId, metadata.name(), metadata.version(), toList(scores),
                metadata.labels().get(ModelMetadata.argmax(scores)), false, null,
                request.eventTimeMillis, request.ingestTimeMillis, nowMillis);
    }

    /** The answer when the model could not give one: the class priors, flagged, with the reason. */
    public Prediction fallback(ScoringRequest request, String reason) {
        return new Prediction(request.eventId, request.userId, metadata.name(), metadata.version(), toList(priors),
                priorLabel, true, reason, request.eventTimeMillis, request.ingestTimeMillis, System.currentTimeMillis());
    }

    @Override
    public void close() {
        try {
            scorer.close();
        } finally {
            deleteRecursively(downloadDir);
        }
    }

    private static List<Float> toList(float[] values) {
        List<Float> list = new ArrayList<>(values.length);
        for (float v : values) {
            list.add(v);
        }
        return list;
    }

    private static void deleteRecursively(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(path -> {
                try {
                    Files.deleteIfExists(path);
                } catch (IOException e) {
                    LOG.debug("Could not delete {}", path, e);
                }
            });
        } catch (IOException e) {
            LOG.debug("Could not clean {}", dir, e);
        }
    }
}
