package dev.flinkai.operators.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/** The model committed to the repository ({@code notebooks/model/next_event_mlp.pt}), found from any working directory. */
public final class CommittedModel {
    public static final String RELATIVE = "notebooks/model/next_event_mlp.pt";
    /** The name in its metadata: what model updates for it must name. */
    public static final String NAME = "next-event-mlp";

    private CommittedModel() {}

    public static Path modelFile() {
        Path start = Paths.get(System.getProperty("user.dir")).toAbsolutePath();
        for (Path dir = start; dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve(RELATIVE);
            if (Files.isRegularFile(candidate)) {
                return candidate.normalize();
            }
        }
        throw new IllegalStateException("The committed model " + RELATIVE + " was not found in " + start
                + " or any parent directory; train it with notebooks/train_next_event_model.ipynb");
    }

    public static Path metadataFile() {
        return modelFile().resolveSibling("next_event_mlp.json");
    }

    public static String uri() {
        return modelFile().toUri().toString();
    }

    /** Feature rows for scoring checks: zeros, ones, and a ramp from 0 to almost 1. */
    public static final float[][] SAMPLE_BATCH = {new float[32], ones(32), ramp(32)};

    public static float[] ones(int n) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, 1f);
        return a;
    }

    public static float[] ramp(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = i / (float) n;
        }
        return a;
    }
}
