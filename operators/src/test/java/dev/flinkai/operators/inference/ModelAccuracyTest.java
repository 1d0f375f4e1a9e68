package dev.flinkai.operators.inference;

import dev.flinkai.operators.features.FeatureExtractor;
import dev.flinkai.operators.inference.djl.BatchScorer;
import dev.flinkai.operators.inference.djl.DjlModel;
import dev.flinkai.operators.inference.djl.ModelArtifacts;
import dev.flinkai.operators.simulation.LabelledExamples;
import dev.flinkai.operators.testing.CommittedModel;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The committed models, scored through {@link DjlModel} on fresh simulated traffic (a seed the training did not use):
 * each must beat always answering the most frequent class of that same data by at least 10 percentage points, and
 * version 2, which also sees the user's profile, must beat version 1 on the users it knows least: their first events.
 */
class ModelAccuracyTest {

    private static final int BATCH = 512;
    /** A user's first events: the context knows little yet, the profile the same as ever. */
    private static final int FIRST_EVENTS = 3;

    private static final List<float[]> features = new ArrayList<>();
    private static final List<Integer> labels = new ArrayList<>();

    @BeforeAll
    static void freshTraffic() {
        LabelledExamples.generate(99, 3_000, 0.8, 100_000, (f, next) -> {
            features.add(f.clone());
            labels.add(next);
        });
    }

    /** Accuracy of the model in {@code file} on the examples {@code which} picks, and of the majority class there. */
    private static double[] accuracy(Path file, java.util.function.IntPredicate which) throws Exception {
        int[] classCounts = new int[4];
        int correct = 0;
        int n = 0;
        try (DjlModel scorer = DjlModel.load(ModelArtifacts.fetch(file.toUri().toString(), null, null));
             BatchScorer predictor = scorer.newPredictor()) {
            assertThat(scorer.metadata().classCount()).isEqualTo(classCounts.length);
            FeatureExtractor.LAYOUT.requireFits(scorer.metadata());
            for (int start = 0; start < features.size(); start += BATCH) {
                int end = Math.min(start + BATCH, features.size());
                float[][] scores = predictor.score(features.subList(start, end).toArray(new float[0][]));
                for (int i = start; i < end; i++) {
                    if (!which.test(i)) {
                        continue;
                    }
                    int truth = labels.get(i);
                    classCounts[truth]++;
                    n++;
                    if (ModelMetadata.argmax(scores[i - start]) == truth) {
                        correct++;
                    }
                }
            }
        }
        int majority = 0;
        for (int count : classCounts) {
            majority = Math.max(majority, count);
        }
        return new double[] {correct / (double) n, majority / (double) n, n};
    }

    private static boolean amongFirstEvents(int example) {
        // Feature 16 is log1p of the user's events so far, this one included.
        return Math.round(Math.expm1(features.get(example)[16])) <= FIRST_EVENTS;
    }

    @Test
    void bothVersionsBeatTheMajorityClassAndVersionTwoBeatsVersionOneOnNewUsers() throws Exception {
        Path v1 = CommittedModel.modelFile();
        Path v2 = v1.resolveSibling("next_event_mlp_v2.pt");
        double[] all1 = accuracy(v1, i -> true);
        double[] all2 = accuracy(v2, i -> true);
        double[] new1 = accuracy(v1, ModelAccuracyTest::amongFirstEvents);
        double[] new2 = accuracy(v2, ModelAccuracyTest::amongFirstEvents);
        System.out.printf("ModelAccuracyTest: %d fresh examples (seed 99, nine in ten users with a profile): "
                        + "version 1 %.4f, version 2 %.4f (%+.2f points), majority class %.4f; "
                        + "on users' first %d events (%d examples): version 1 %.4f, version 2 %.4f (%+.2f points), "
                        + "majority class %.4f%n", (int) all1[2], all1[0], all2[0], 100 * (all2[0] - all1[0]), all1[1],
                FIRST_EVENTS, (int) new1[2], new1[0], new2[0], 100 * (new2[0] - new1[0]), new1[1]);

        assertThat(all1[2]).isGreaterThan(90_000);
        assertThat(all1[0]).as("version 1 vs. the majority class").isGreaterThanOrEqualTo(all1[1] + 0.10);
        assertThat(all2[0]).as("version 2 vs. the majority class").isGreaterThanOrEqualTo(all2[1] + 0.10);
        assertThat(all2[0]).as("version 2 vs. version 1, all examples").isGreaterThan(all1[0]);
        assertThat(new2[0]).as("version 2 vs. version 1, users' first events").isGreaterThan(new1[0] + 0.01);
    }
}
