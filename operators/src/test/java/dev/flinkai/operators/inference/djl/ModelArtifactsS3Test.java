package dev.flinkai.operators.inference.djl;

import dev.flinkai.operators.inference.ModelMetadata;
import dev.flinkai.operators.testing.CommittedModel;

import io.minio.MakeBucketArgs;
import io.minio.MinioClient;
import io.minio.UploadObjectArgs;
import org.gaul.s3proxy.junit.S3ProxyExtension;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Fetching a model from a real S3 API server (S3Proxy in this JVM, fresh store per test) with the MinIO client. */
class ModelArtifactsS3Test {

    private static final String ACCESS_KEY = "test-access";
    private static final String SECRET_KEY = "test-secret-key";
    private static final String BUCKET = "models";

    @RegisterExtension
    static final S3ProxyExtension S3 = S3ProxyExtension.builder().withCredentials(ACCESS_KEY, SECRET_KEY).build();

    private static DjlModel local;

    @BeforeAll
    static void loadLocal() throws IOException {
        local = DjlModel.load(ModelArtifacts.fetch(CommittedModel.modelFile().toString(), null, null));
    }

    @AfterAll
    static void closeLocal() {
        local.close();
    }

    private static String endpoint() {
        String uri = S3.getUri().toString();
        return uri.endsWith("/") ? uri.substring(0, uri.length() - 1) : uri;
    }

    private static void upload(String key, Path file) throws Exception {
        try (MinioClient client = MinioClient.builder().endpoint(endpoint()).credentials(ACCESS_KEY, SECRET_KEY).build()) {
            client.uploadObject(UploadObjectArgs.builder().bucket(BUCKET).object(key).filename(file.toString()).build());
        }
    }

    private static ModelArtifacts.S3Access access() {
        return new ModelArtifacts.S3Access(endpoint(), ACCESS_KEY, SECRET_KEY, null);
    }

    @BeforeEach
    void createBucket() throws Exception {
        try (MinioClient client = MinioClient.builder().endpoint(endpoint()).credentials(ACCESS_KEY, SECRET_KEY).build()) {
            client.makeBucket(MakeBucketArgs.builder().bucket(BUCKET).build());
        }
    }

    /** The job checks a model's feature count at submission: it reads the metadata without the model itself. */
    @Test
    void readsTheMetadataAloneWithoutFetchingTheModel() throws Exception {
        upload("next-event/meta-only/next_event_mlp.json", CommittedModel.metadataFile());

        ModelMetadata metadata = ModelArtifacts.fetchMetadata("s3://" + BUCKET + "/next-event/meta-only/next_event_mlp.pt",
                access());
        assertThat(metadata.featureCount()).isEqualTo(local.metadata().featureCount());
        assertThat(metadata.version()).isEqualTo(local.metadata().version());
        assertThatThrownBy(() -> ModelArtifacts.fetchMetadata("s3://" + BUCKET + "/nowhere/m.pt", access()))
                .isInstanceOf(IOException.class).hasMessageContaining("s3://models/nowhere/m.json");
    }

    @Test
    void fetchesFromS3AndScores(@TempDir Path downloads) throws Exception {
        upload("next-event/v1/next_event_mlp.pt", CommittedModel.modelFile());
        upload("next-event/v1/next_event_mlp.json", CommittedModel.metadataFile());

        ModelArtifacts.LocalModel fetched =
                ModelArtifacts.fetch("s3://" + BUCKET + "/next-event/v1/next_event_mlp.pt", access(), downloads);
        assertThat(fetched.modelFile()).isEqualTo(downloads.resolve("next_event_mlp.pt"));
        assertThat(Files.mismatch(fetched.modelFile(), CommittedModel.modelFile())).isEqualTo(-1L);
        assertThat(Files.mismatch(fetched.metadataFile(), CommittedModel.metadataFile())).isEqualTo(-1L);
        assertThat(fetched.metadata().labels()).isEqualTo(local.metadata().labels());
        // The MinIO client was closed: no non-daemon OkHttp thread is left to keep a JVM alive.
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
        while (!liveOkHttpThreads().isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(liveOkHttpThreads()).isEmpty();

        try (DjlModel fromS3 = DjlModel.load(fetched);
             BatchScorer s3Predictor = fromS3.newPredictor();
             BatchScorer localPredictor = local.newPredictor()) {
            float[][] expected = localPredictor.score(CommittedModel.SAMPLE_BATCH);
            float[][] actual = s3Predictor.score(CommittedModel.SAMPLE_BATCH);
            for (int i = 0; i < CommittedModel.SAMPLE_BATCH.length; i++) {
                for (int c = 0; c < 4; c++) {
                    assertThat(actual[i][c]).isCloseTo(expected[i][c], within(1e-6f));
                }
            }
        }
    }

    @Test
    void aMissingObjectFailsNamingTheUri(@TempDir Path downloads) throws Exception {
        upload("present/next_event_mlp.json", CommittedModel.metadataFile());
        String missing = "s3://" + BUCKET + "/present/missing_model.pt";
        assertThatThrownBy(() -> ModelArtifacts.fetch(missing, access(), downloads))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("not found")
                .hasMessageContaining(missing);

        // The model is there but its metadata is not: the message names the json it looked for.
        upload("lonely/next_event_mlp.pt", CommittedModel.modelFile());
        assertThatThrownBy(() -> ModelArtifacts.fetch("s3://" + BUCKET + "/lonely/next_event_mlp.pt", access(), downloads))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("s3://" + BUCKET + "/lonely/next_event_mlp.json");

        assertThatThrownBy(() -> ModelArtifacts.fetch("s3://no-such-bucket/m.pt", access(), downloads))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("s3://no-such-bucket/m.pt");
    }

    @Test
    void wrongCredentialsFailNamingTheUri(@TempDir Path downloads) throws Exception {
        upload("next-event/v1/next_event_mlp.pt", CommittedModel.modelFile());
        String uri = "s3://" + BUCKET + "/next-event/v1/next_event_mlp.pt";
        assertThatThrownBy(() -> ModelArtifacts.fetch(uri,
                new ModelArtifacts.S3Access(endpoint(), ACCESS_KEY, "wrong-secret", null), downloads))
                .isInstanceOf(IOException.class)
                .hasMessageContaining(uri);
    }

    private static java.util.List<String> liveOkHttpThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && !t.isDaemon() && t.getName().startsWith("OkHttp"))
                .map(Thread::getName)
                .toList();
    }
}
