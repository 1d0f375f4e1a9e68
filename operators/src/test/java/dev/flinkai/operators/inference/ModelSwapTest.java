package dev.flinkai.operators.inference;

import dev.flinkai.operators.features.FeatureExtractor;
import dev.flinkai.operators.features.ScoringRequest;
import dev.flinkai.operators.inference.djl.ModelArtifacts;
import dev.flinkai.operators.simulation.LabelledExamples;
import dev.flinkai.operators.testing.CommittedModel;
import dev.flinkai.schemas.ModelEvent;
import dev.flinkai.schemas.ModelEventKind;
import dev.flinkai.schemas.ModelUpdate;
import dev.flinkai.schemas.Prediction;

import org.apache.flink.metrics.Counter;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.metrics.util.InterceptingOperatorMetricGroup;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.apache.flink.types.Either;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Model updates inside Flink's real async operator (test harness) with the in-process backend and real TorchScript
 * files: a version that passes every check serves from the next batch on, one that fails any check is rejected with
 * the reason while the serving one stays, and a snapshot taken after or during a swap restores to the swapped version.
 * "Another version" is the committed model under metadata of another version; the broken ones are real broken files.
 */
class ModelSwapTest {

    @TempDir
    static Path models;
    private static ModelUpdate sameLayout;
    private static List<float[]> features;

    @BeforeAll
    static void publishVersions() throws Exception {
        sameLayout = publish("1.1.0", Files.readAllBytes(CommittedModel.modelFile()), CommittedModel.metadataFile(), null);
        features = new ArrayList<>();
        LabelledExamples.generate(3, 100, 0.8, 400, (f, label) -> features.add(f.clone()));
    }

    /** Writes a model file and its metadata (of {@code version}) as a publisher would; the update names it. */
    private static ModelUpdate publish(String version, byte[] modelFile, Path metadataOf, String sha256) throws Exception {
        Path dir = Files.createDirectories(models.resolve(version));
        Path pt = dir.resolve("model.pt");
        Files.write(pt, modelFile);
        String metadata = Files.readString(metadataOf).replaceFirst("\"version\"\\s*:\\s*\"[^\"]*\"",
                "\"version\": \"" + version + "\"");
        Files.writeString(dir.resolve("model.json"), metadata);
        return ModelUpdate.newBuilder().setModelName(CommittedModel.NAME).setVersion(version)
                .setUri(pt.toUri().toString()).setSha256(sha256 != null ? sha256 : ModelArtifacts.sha256Hex(pt))
                .setPublishedAtMillis(System.currentTimeMillis()).build();
    }

    private static BatchingInferenceFunction function(ModelClientFactory clients) {
        return function(CommittedModel.uri(), clients);
    }

    /** The function of a job whose configured model ({@code model.uri}) is {@code configuredUri}. */
    private static BatchingInferenceFunction function(String configuredUri, ModelClientFactory clients) {
        return new BatchingInferenceFunction(ModelSettings.forModel(configuredUri).workers(1), clients,
                FeatureExtractor.LAYOUT, Duration.ofSeconds(30));
    }

    /** A snapshot of the function once it has loaded {@code update}: the state a restore after the swap starts from. */
    private static OperatorSubtaskState snapshotAfterLoading(ModelUpdate update) throws Exception {
        try (var harness = BatchingInferenceFunctionTest.harness(function(ModelClients.DEFAULT), 30_000, 10)) {
            harness.open();
            harness.processElement(control(update), 1);
            await(harness, h -> events(h).stream().anyMatch(e -> e.getKind() == ModelEventKind.LOADED), "LOADED");
            return harness.snapshot(1, 10);
        }
    }

    private static List<ScoringRequest> batch(String prefix, int size) {
        List<ScoringRequest> batch = new ArrayList<>();
        for (int i = 0; i < size; i++) {
            batch.add(new ScoringRequest(prefix + i, "user-" + i, 0, 1_000L + i, 2_000L + i, features.get(i)));
        }
        return batch;
    }

    private static List<ScoringRequest> control(ModelUpdate update) {
        return List.of(ScoringRequest.control(update));
    }

    /** Runs the operator's mails until {@code done} holds for its outputs. */
    private static void await(OneInputStreamOperatorTestHarness<List<ScoringRequest>, Either<Prediction, ModelEvent>> harness,
                              Predicate<OneInputStreamOperatorTestHarness<List<ScoringRequest>, Either<Prediction, ModelEvent>>> done,
                              String what) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            BatchingInferenceFunctionTest.drainMailbox(harness);
            if (done.test(harness)) {
                return;
            }
            Thread.sleep(5);
        }
        throw new AssertionError("timed out waiting for " + what + "; outputs: " + harness.extractOutputValues());
    }

    private static List<Prediction> predictions(
            OneInputStreamOperatorTestHarness<List<ScoringRequest>, Either<Prediction, ModelEvent>> harness, String prefix) {
        return BatchingInferenceFunctionTest.predictionsOf(harness).stream()
                .filter(p -> p.getEventId().startsWith(prefix)).toList();
    }

    private static List<ModelEvent> events(
            OneInputStreamOperatorTestHarness<List<ScoringRequest>, Either<Prediction, ModelEvent>> harness) {
        return BatchingInferenceFunctionTest.modelEventsOf(harness);
    }

    private static void scoreAndAwait(
            OneInputStreamOperatorTestHarness<List<ScoringRequest>, Either<Prediction, ModelEvent>> harness,
            String prefix, int size) throws Exception {
        harness.processElement(batch(prefix, size), 1);
        await(harness, h -> predictions(h, prefix).size() == size, "batch " + prefix);
    }

    @Test
    void aVersionThatPassesTheChecksServesFromTheNextBatchAndIsAnnounced() throws Exception {
        String servedBefore;
        try (var harness = BatchingInferenceFunctionTest.harness(function(ModelClients.DEFAULT), 30_000, 10)) {
            harness.open();
            scoreAndAwait(harness, "a", 8);
            servedBefore = predictions(harness, "a").get(0).getModelVersion();
            assertThat(events(harness)).singleElement().satisfies(e -> {
                assertThat(e.getKind()).isEqualTo(ModelEventKind.ACTIVE);
                assertThat(e.getVersion()).isEqualTo(servedBefore);
                assertThat(e.getReason()).isEqualTo("started");
            });

            harness.processElement(control(sameLayout), 2);
            await(harness, h -> events(h).size() == 3, "LOADED and ACTIVE");
            assertThat(events(harness).subList(1, 3)).extracting(ModelEvent::getKind, ModelEvent::getVersion)
                    .containsExactly(org.assertj.core.groups.Tuple.tuple(ModelEventKind.LOADED, "1.1.0"),
                            org.assertj.core.groups.Tuple.tuple(ModelEventKind.ACTIVE, "1.1.0"));
            assertThat(events(harness)).allSatisfy(e -> assertThat(e.getSubtask()).isZero());

            scoreAndAwait(harness, "b", 8);
            assertThat(predictions(harness, "a")).allSatisfy(p -> assertThat(p.getModelVersion()).isEqualTo(servedBefore));
            assertThat(predictions(harness, "b")).allSatisfy(p -> {
                assertThat(p.getModelVersion()).isEqualTo("1.1.0");
                assertThat(p.getFallback()).isFalse();
            });
            // The same file: the same answers, only the version differs.
            assertThat(predictions(harness, "b").get(0).getScores()).isEqualTo(predictions(harness, "a").get(0).getScores());
            harness.endInput();
        }
    }

    @Test
    void aVersionThatFailsACheckIsRejectedWithTheReasonAndNeverServed() throws Exception {
        Path committedJson = CommittedModel.metadataFile();
        byte[] committedPt = Files.readAllBytes(CommittedModel.modelFile());
        ModelUpdate wrongChecksum = publish("2.0.0-wrong-sha", committedPt, committedJson, "0".repeat(64));
        ModelUpdate notTorchScript = publish("2.0.0-not-torchscript", "this is not a model".getBytes(), committedJson, null);
        Path twenty = Path.of(ModelSwapTest.class.getResource("/models/twenty_features.pt").toURI());
        ModelUpdate otherFeatureCount = publish("2.0.0-twenty-features", Files.readAllBytes(twenty),
                twenty.resolveSibling("twenty_features.json"), null);
        Path relabelled = Files.createTempFile(models, "relabelled", ".json");
        Files.writeString(relabelled, Files.readString(committedJson).replace("\"FEEDBACK\"", "\"RATING\""));
        ModelUpdate otherLabels = publish("2.0.0-other-labels", committedPt, relabelled, null);

        try (var harness = BatchingInferenceFunctionTest.harness(function(ModelClients.DEFAULT), 30_000, 10)) {
            harness.open();
            scoreAndAwait(harness, "a", 4);
            String served = predictions(harness, "a").get(0).getModelVersion();
            for (ModelUpdate update : List.of(wrongChecksum, notTorchScript, otherFeatureCount, otherLabels)) {
                harness.processElement(control(update), 2);
            }
            await(harness, h -> events(h).size() == 5, "four rejections");
            List<ModelEvent> rejected = events(harness).subList(1, 5);
            assertThat(rejected).allSatisfy(e -> assertThat(e.getKind()).isEqualTo(ModelEventKind.REJECTED));
            assertThat(rejected).extracting(ModelEvent::getVersion).containsExactlyInAnyOrder(wrongChecksum.getVersion(),
                    notTorchScript.getVersion(), otherFeatureCount.getVersion(), otherLabels.getVersion());
            assertThat(reasonOf(rejected, wrongChecksum)).contains("Checksum mismatch").contains("expected " + "0".repeat(64));
            assertThat(reasonOf(rejected, notTorchScript)).contains("PytorchStreamReader failed reading zip archive");
            assertThat(reasonOf(rejected, otherFeatureCount)).contains("takes 20 features");
            assertThat(reasonOf(rejected, otherLabels)).contains("names the labels").contains("RATING");

            scoreAndAwait(harness, "b", 4);
            assertThat(predictions(harness, "b")).allSatisfy(p -> {
                assertThat(p.getModelVersion()).isEqualTo(served);
                assertThat(p.getFallback()).isFalse();
            });
            harness.endInput();
        }
    }

    /**
     * With the result cache on, rows version 1 answered (and cached) get version 2's own answers after the swap: the
     * new version's clients start with caches of their own.
     */
    @Test
    void withTheResultCacheASwapAnswersWithTheNewVersionsOwnScores() throws Exception {
        Path v2File = CommittedModel.modelFile().resolveSibling("next_event_mlp_v2.pt");
        ModelUpdate v2 = publish("2.0.0", Files.readAllBytes(v2File), v2File.resolveSibling("next_event_mlp_v2.json"), null);
        float[][] rows = features.subList(0, 8).toArray(float[][]::new);
        float[][] v2Own;
        try (ModelClient plain = ModelClients.open(ModelSettings.forModel(v2.getUri()), "reference",
                new InterceptingOperatorMetricGroup())) {
            v2Own = plain.score(rows, Long.MAX_VALUE).get(30, TimeUnit.SECONDS).scores();
        }
        BatchingInferenceFunctionTest.CapturingTaskGroup metrics = new BatchingInferenceFunctionTest.CapturingTaskGroup();
        BatchingInferenceFunction cached = new BatchingInferenceFunction(ModelSettings.forModel(CommittedModel.uri())
                .workers(1).cacheSize(1000), ModelClients.DEFAULT, FeatureExtractor.LAYOUT, Duration.ofSeconds(30));
        try (var harness = BatchingInferenceFunctionTest.harness(cached, 30_000, 10, metrics)) {
            harness.open();
            scoreAndAwait(harness, "a", 8);
            scoreAndAwait(harness, "b", 8);
            assertThat(((Counter) metrics.lane("normal").get("cacheHits")).getCount())
                    .as("version 1 answered b from its cache").isEqualTo(8);
            for (int i = 0; i < 8; i++) {
                assertThat(predictions(harness, "b").get(i).getScores())
                        .isEqualTo(predictions(harness, "a").get(i).getScores());
            }

            harness.processElement(control(v2), 2);
            await(harness, h -> events(h).stream().anyMatch(e -> e.getKind() == ModelEventKind.ACTIVE
                    && "2.0.0".equals(e.getVersion())), "version 2 serving");
            for (String round : List.of("c", "d")) {
                scoreAndAwait(harness, round, 8);
                List<Prediction> answers = predictions(harness, round);
                for (int i = 0; i < 8; i++) {
                    Prediction p = answers.get(i);
                    assertThat(p.getModelVersion()).isEqualTo("2.0.0");
                    assertThat(p.getFallback()).isFalse();
                    assertThat(p.getScores()).as("version 2's own answer to row %s", i)
                            .zipSatisfy(toList(v2Own[i]), (got, own) -> assertThat(got).isCloseTo(own, within(1e-5f)));
                    assertThat(p.getScores()).isNotEqualTo(predictions(harness, "a").get(i).getScores());
                }
            }
            harness.endInput();
        }
    }

    private static List<Float> toList(float[] values) {
        List<Float> list = new ArrayList<>();
        for (float v : values) {
            list.add(v);
        }
        return list;
    }

    private static String reasonOf(List<ModelEvent> events, ModelUpdate update) {
        return events.stream().filter(e -> e.getVersion().equals(update.getVersion())).findFirst().orElseThrow().getReason();
    }

    @Test
    void aSnapshotAfterASwapRestoresTheSwappedVersion() throws Exception {
        OperatorSubtaskState snapshot = snapshotAfterLoading(sameLayout);
        try (var restored = BatchingInferenceFunctionTest.harness(function(ModelClients.DEFAULT), 30_000, 10)) {
            restored.initializeState(snapshot);
            restored.open();
            scoreAndAwait(restored, "r", 4);
            assertThat(predictions(restored, "r")).allSatisfy(p -> assertThat(p.getModelVersion()).isEqualTo("1.1.0"));
            assertThat(events(restored)).singleElement().satisfies(e -> {
                assertThat(e.getKind()).isEqualTo(ModelEventKind.ACTIVE);
                assertThat(e.getReason()).isEqualTo("restored");
            });
            restored.endInput();
        }
    }

    @Test
    void aRestoreWithAnotherConfiguredModelServesThatModelNotTheRestoredVersion() throws Exception {
        OperatorSubtaskState snapshot = snapshotAfterLoading(sameLayout);
        String elsewhere = publish("1.2.0", Files.readAllBytes(CommittedModel.modelFile()), CommittedModel.metadataFile(),
                null).getUri();
        try (var restored = BatchingInferenceFunctionTest.harness(function(elsewhere, ModelClients.DEFAULT), 30_000, 10)) {
            restored.initializeState(snapshot);
            restored.open();
            scoreAndAwait(restored, "r", 4);
            assertThat(predictions(restored, "r")).allSatisfy(p -> assertThat(p.getModelVersion()).isEqualTo("1.2.0"));
            assertThat(events(restored)).singleElement().satisfies(e -> {
                assertThat(e.getKind()).isEqualTo(ModelEventKind.ACTIVE);
                assertThat(e.getReason()).startsWith("started: the configured model changed")
                        .contains("restored version 1.1.0 is not served");
            });
            restored.endInput();
        }
    }

    /** Held while a model of version 1.1.0 opens, so a snapshot falls in the middle of the swap. */
    static volatile CountDownLatch loading = new CountDownLatch(1);
    static volatile CountDownLatch release = new CountDownLatch(1);

    @Test
    void aSnapshotInTheMiddleOfASwapLoadsTheVersionAgainOnRestore() throws Exception {
        loading = new CountDownLatch(1);
        release = new CountDownLatch(1);
        ModelClientFactory held = (settings, owner, metrics) -> {
            if (settings.modelUri().equals(sameLayout.getUri())) {
                loading.countDown();
                release.await(60, TimeUnit.SECONDS);
            }
            return ModelClients.open(settings, owner, metrics);
        };
        OperatorSubtaskState snapshot;
        try (var harness = BatchingInferenceFunctionTest.harness(function(held), 30_000, 10)) {
            harness.open();
            harness.processElement(control(sameLayout), 1);
            assertThat(loading.await(30, TimeUnit.SECONDS)).isTrue();
            snapshot = harness.snapshot(1, 10); // the control is in flight: the async operator keeps it
            release.countDown();
        }
        try (var restored = BatchingInferenceFunctionTest.harness(function(ModelClients.DEFAULT), 30_000, 10)) {
            restored.initializeState(snapshot);
            restored.open();
            await(restored, h -> events(h).stream().anyMatch(e -> e.getKind() == ModelEventKind.ACTIVE
                    && "1.1.0".equals(e.getVersion())), "the swap, again");
            scoreAndAwait(restored, "r", 4);
            assertThat(predictions(restored, "r")).allSatisfy(p -> assertThat(p.getModelVersion()).isEqualTo("1.1.0"));
            restored.endInput();
        }
    }
}
