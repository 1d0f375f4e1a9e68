package dev.flinkai.operators.inference.djl;

import ai.djl.MalformedModelException;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.TranslatorContext;
import dev.flinkai.operators.inference.ModelMetadata;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;

/**
 * A TorchScript classifier loaded with DJL's PyTorch engine: float32 {@code [batch, featureCount]} in (the first
 * {@code featureCount} values of each row, which may be wider), float32 {@code [batch, classCount]} class
 * probabilities out. The model is shared; DJL predictors are not thread-safe, so each
 * thread that scores takes its own from {@link #newPredictor()}.
 *
 * <p>Before the engine first loads, {@link #load} sets {@code ai.djl.offline=true} and one PyTorch intra-op and
 * inter-op thread (unless those system properties are already set): parallelism comes from Java threads, each
 * holding a predictor, not from PyTorch's own pools which oversubscribe small machines.
 */
public final class DjlModel implements AutoCloseable {

    private final ZooModel<float[][], float[][]> model;
    private final ModelMetadata metadata;

    private DjlModel(ZooModel<float[][], float[][]> model, ModelMetadata metadata) {
        this.model = model;
        this.metadata = metadata;
    }

    public static DjlModel load(ModelArtifacts.LocalModel local) throws IOException {
        return load(local.modelFile(), local.metadata());
    }

    /**
     * Loads the TorchScript file and checks it against the metadata by scoring one row of zeros: the model must accept
     * {@code featureCount} inputs and return one probability per label.
     */
    public static DjlModel load(Path modelFile, ModelMetadata metadata) throws IOException {
        Objects.requireNonNull(metadata, "metadata");
        configureEngineDefaults();
        Path file = modelFile.toAbsolutePath().normalize();
        String fileName = file.getFileName().toString();
        String baseName = fileName.endsWith(".pt") ? fileName.substring(0, fileName.length() - 3) : fileName;
        Criteria<float[][], float[][]> criteria = Criteria.builder()
                .setTypes(float[][].class, float[][].class)
                .optEngine("PyTorch")
                .optModelPath(file.getParent())
                .optModelName(baseName)
                .optTranslator(new RowsTranslator(metadata.featureCount(), metadata.classCount()))
                .build();
        ZooModel<float[][], float[][]> model;
        try {
            model = criteria.loadModel();
        } catch (ModelNotFoundException | MalformedModelException e) {
            throw new IOException("Cannot load TorchScript model " + file + ": " + e.getMessage(), e);
        }
        DjlModel scorer = new DjlModel(model, metadata);
        try (BatchScorer probe = scorer.newPredictor()) {
            float[][] out = probe.score(new float[][] {new float[metadata.featureCount()]});
            if (out.length != 1 || out[0].length != metadata.classCount()) {
                throw new IOException("Model " + file + " returns " + (out.length == 0 ? 0 : out[0].length)
                        + " values per row but its metadata names " + metadata.classCount() + " labels " + metadata.labels());
            }
        } catch (Exception e) {
            scorer.close();
            if (e instanceof IOException io) {
                throw io;
            }
            throw new IOException("Model " + file + " does not fit its metadata (" + metadata.featureCount()
                    + " features in, " + metadata.classCount() + " probabilities out): " + e.getMessage(), e);
        }
        return scorer;
    }

    /** Sets the DJL/PyTorch system properties this project relies on, keeping any value set explicitly. */
    public static void configureEngineDefaults() {
        setIfAbsent("ai.djl.offline", "true");
        setIfAbsent("ai.djl.pytorch.num_threads", "1");
        setIfAbsent("ai.djl.pytorch.num_interop_threads", "1");
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }

    public ModelMetadata metadata() {
        return metadata;
    }

    /** A new predictor for the calling thread; close it before closing this scorer. */
    public BatchScorer newPredictor() {
        return new PredictorScorer(model.newPredictor());
    }

    @Override
    public void close() {
        model.close();
    }

    private static final class PredictorScorer implements BatchScorer {
        private final Predictor<float[][], float[][]> predictor;

        PredictorScorer(Predictor<float[][], float[][]> predictor) {
            this.predictor = predictor;
        }

        @Override
        public float[][] score(float[][] batch) throws Exception {
            if (batch.length == 0) {
                return new float[0][];
            }
            return predictor.predict(batch);
        }

        @Override
        public void close() {
            predictor.close();
        }
    }

    /** The first {@code featureCount} floats of each row to one 2-D tensor and back; no per-item batchify step. */
    static final class RowsTranslator implements NoBatchifyTranslator<float[][], float[][]> {
        private final int featureCount;
        private final int classCount;

        RowsTranslator(int featureCount, int classCount) {
            this.featureCount = featureCount;
            this.classCount = classCount;
        }

        @Override
        public NDList processInput(TranslatorContext ctx, float[][] rows) {
            int width = featureCount;
            float[] flat = new float[rows.length * width];
            for (int i = 0; i < rows.length; i++) {
                if (rows[i] == null || rows[i].length < width) {
                    throw new IllegalArgumentException("Row " + i + " has " + (rows[i] == null ? "no" : rows[i].length)
                            + " features, the model takes " + width);
                }
                System.arraycopy(rows[i], 0, flat, i * width, width);
            }
            return new NDList(ctx.getNDManager().create(flat, new Shape(rows.length, width)));
        }

        @Override
        public float[][] processOutput(TranslatorContext ctx, NDList list) {
            NDArray out = list.singletonOrThrow();
            Shape shape = out.getShape();
            if (shape.dimension() != 2 || shape.get(1) != classCount) {
                throw new IllegalStateException("Model output has shape " + shape + ", expected [rows, " + classCount + "]");
            }
            int rows = (int) shape.get(0);
            float[] flat = out.toFloatArray();
            float[][] result = new float[rows][];
            for (int i = 0; i < rows; i++) {
                result[i] = Arrays.copyOfRange(flat, i * classCount, (i + 1) * classCount);
            }
            return result;
        }
    }
}
