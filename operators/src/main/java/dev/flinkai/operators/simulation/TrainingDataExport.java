package dev.flinkai.operators.simulation;

import dev.flinkai.operators.features.FeatureExtractor;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes the training set for the notebook: a CSV with columns f0..f37 and label (the user's next event type), made
 * by the same context and feature code the job runs. The first 32 columns are the context's features (what model
 * version 1 takes), the others the profile's.
 *
 * <pre>java -cp operators.jar:... dev.flinkai.operators.simulation.TrainingDataExport OUT.csv [seed] [users] [events]</pre>
 */
public final class TrainingDataExport {

    public static void main(String[] args) throws IOException {
        if (args.length < 1) {
            throw new IllegalArgumentException("usage: TrainingDataExport OUT.csv [seed] [users] [events]");
        }
        Path out = Path.of(args[0]);
        long seed = args.length > 1 ? Long.parseLong(args[1]) : 42L;
        int users = args.length > 2 ? Integer.parseInt(args[2]) : 5_000;
        int events = args.length > 3 ? Integer.parseInt(args[3]) : 400_000;
        if (out.getParent() != null) {
            Files.createDirectories(out.getParent());
        }
        long[] rows = {0};
        try (BufferedWriter writer = Files.newBufferedWriter(out)) {
            StringBuilder header = new StringBuilder();
            for (int i = 0; i < FeatureExtractor.FEATURE_COUNT; i++) {
                header.append('f').append(i).append(',');
            }
            writer.write(header.append("label\n").toString());
            StringBuilder line = new StringBuilder();
            LabelledExamples.generate(seed, users, 0.8, events, (features, label) -> {
                line.setLength(0);
                for (float f : features) {
                    line.append(f).append(',');
                }
                line.append(label).append('\n');
                try {
                    writer.write(line.toString());
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                rows[0]++;
            });
        }
        System.out.printf("wrote %d examples (seed %d, %d users, %d events) to %s%n", rows[0], seed, users, events, out);
    }
}
