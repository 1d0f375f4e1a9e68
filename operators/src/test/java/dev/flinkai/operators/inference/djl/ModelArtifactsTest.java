package dev.flinkai.operators.inference.djl;

import dev.flinkai.operators.inference.ModelMetadata;
import dev.flinkai.operators.testing.CommittedModel;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class ModelArtifactsTest {

    private static DjlModel local;

    @BeforeAll
    static void loadLocal() throws IOException {
        local = DjlModel.load(ModelArtifacts.fetch(CommittedModel.modelFile().toString(), null, null));
    }

    @AfterAll
    static void closeLocal() {
        local.close();
    }

    @Test
    void loadsFromAPlainPathAndAFileUri() throws Exception {
        ModelArtifacts.LocalModel byPath = ModelArtifacts.fetch(CommittedModel.modelFile().toString(), null, null);
        ModelArtifacts.LocalModel byUri = ModelArtifacts.fetch(CommittedModel.uri(), null, null);
        assertThat(byUri.modelFile()).isEqualTo(byPath.modelFile());
        assertThat(byPath.metadataFile()).isEqualTo(CommittedModel.metadataFile());
        ModelMetadata metadata = byPath.metadata();
        assertThat(metadata.labels()).containsExactly("QUERY", "ACTION", "FEEDBACK", "TASK_OUTCOME");
        assertThat(metadata.featureCount()).isEqualTo(32);
        assertThat(metadata.classPriors()).hasSize(4);
        assertThat(metadata.name()).isNotBlank();
        assertThat(metadata.version()).isNotBlank();

        try (BatchScorer predictor = local.newPredictor()) {
            float[][] scores = predictor.score(CommittedModel.SAMPLE_BATCH);
            assertThat(scores).hasDimensions(3, 4);
            for (float[] row : scores) {
                float sum = 0;
                for (float p : row) {
                    assertThat(p).isBetween(0f, 1f);
                    sum += p;
                }
                assertThat(sum).as("probabilities sum to 1").isCloseTo(1f, within(1e-4f));
            }
        }
    }

    @Test
    void aMissingLocalFileFailsNamingIt(@TempDir Path dir) {
        Path nowhere = dir.resolve("nowhere/model.pt");
        assertThatThrownBy(() -> ModelArtifacts.fetch(nowhere.toString(), null, null))
                .isInstanceOf(IOException.class)
                .hasMessageContaining(nowhere.toString());
        assertThatThrownBy(() -> ModelArtifacts.fetch(nowhere.toUri().toString(), null, null))
                .isInstanceOf(IOException.class)
                .hasMessageContaining(nowhere.toUri().toString());
    }

    @Test
    void metadataSitsBesideTheModelWithTheSameBaseName() {
        assertThat(ModelArtifacts.metadataNameFor("a/b/next_event_mlp.pt")).isEqualTo("a/b/next_event_mlp.json");
        assertThat(ModelArtifacts.metadataNameFor("model")).isEqualTo("model.json");
        assertThat(ModelArtifacts.metadataNameFor("dir.v1/model")).isEqualTo("dir.v1/model.json");
    }
}
