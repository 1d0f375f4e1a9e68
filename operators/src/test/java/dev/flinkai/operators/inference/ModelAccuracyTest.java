package dev.flinkai.operators.inference;

import dev.flinkai.operators.inference.djl.BatchScorer;
import dev.flinkai.operators.inference.djl.DjlModel;
import dev.flinkai.operators.inference.djl.ModelArtifacts;
import dev.flinkai.operators.simulation.LabelledExamples;
import dev.flinkai.operators.testing.CommittedModel;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The committed model, scored through {@link DjlModel} on fresh simulated traffic (a seed the training did not use),
 * must beat always answering the most frequent class of that same data by at least 10 percentage points.
 */
class ModelAccuracyTest {

    private static final int BATCH = 512;

    @Test
    void beatsTheMajorityClassBaselineOnFreshData() throws Exception {
        List<float[]> features = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        LabelledExamples.generate(99, 3_000, 0.8, 100_000, (f, next) -> {
            features.add(f.clone());
            labels.add(next);
        });

        int[] classCounts = new int[4];
        int correct = 0;
        try (DjlModel scorer = DjlModel.load(ModelArtifacts.fetch(CommittedModel.uri(), null, null));
             BatchScorer predictor = scorer.newPredictor()) {
            assertThat(scorer.metadata().classCount()).isEqualTo(classCounts.length);
            for (int start = 0; start < features.size(); start += BATCH) {
                int end = Math.min(start + BATCH, features.size());
                float[][] scores = predictor.score(features.subList(start, end).toArray(new float[0][]));
                for (int i = start; i < end; i++) {
                    int truth = labels.get(i);
                    classCounts[truth]++;
                    if (ModelMetadata.argmax(scores[i - start]) == truth) {
                        correct++;
                    }
                }
            }
        }
        int n = features.size();
        int majority = 0;
        for (int count : classCounts) {
            majority = Math.max(majority, count);
        }
        double accuracy = correct / (double) n;
        double baseline = majority / (double) n;
        System.out.printf("ModelAccuracyTest: %d fresh examples (seed 99), model accuracy %.4f, majority-class baseline %.4f, "
                + "lift %.1f points%n", n, accuracy, baseline, 100 * (accuracy - baseline));

        assertThat(n).isGreaterThan(90_000);
        assertThat(accuracy).as("accuracy vs. majority baseline %.4f", baseline).isGreaterThanOrEqualTo(baseline + 0.10);
    }
}
