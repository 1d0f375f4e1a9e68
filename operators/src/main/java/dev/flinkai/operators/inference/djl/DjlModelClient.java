package dev.flinkai.operators.inference.djl;

import dev.flinkai.operators.inference.ModelAnswer;
import dev.flinkai.operators.inference.ModelClient;
import dev.flinkai.operators.inference.ModelMetadata;
import dev.flinkai.operators.inference.ModelSettings;

import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.CompletableFuture;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

/**
 * The in-process backend: a TorchScript model fetched into a directory of its own and run by DJL on
 * {@code settings.workers()} threads, each with its own predictor (they are not thread-safe), fed by a bounded queue.
 * A batch whose future was cancelled (its timeout answered it) before a worker took it is skipped. With a SHA-256 in
 * the settings, a file of another checksum is refused before it is loaded.
 *
 * <p>Metric, in the group it is given: gauge {@code queued} (batches waiting for a worker).
 */
public final class DjlModelClient implements ModelClient {
    private static final Logger LOG = LoggerFactory.getLogger(DjlModelClient.class);

    private final DjlModel model;
    private final Path downloadDir;
    private final WorkerPool<Call> workers;

    private DjlModelClient(DjlModel model, Path downloadDir, String owner, ModelSettings settings,
                           UnaryOperator<BatchScorer> predictorWrapper) {
        this.model = model;
        this.downloadDir = downloadDir;
        this.workers = new WorkerPool<>("inference-" + owner, settings.queueCapacity(), settings.workers(),
                i -> new Worker(predictorWrapper.apply(model.newPredictor())));
        this.workers.start();
    }

    public static DjlModelClient open(ModelSettings settings, String owner, MetricGroup metrics) throws Exception {
        return open(settings, owner, metrics, UnaryOperator.identity());
    }

    /**
     * @param predictorWrapper wraps each worker's predictor, so tests can hold, count or break calls to the real
     *                         model on the worker thread
     */
    public static DjlModelClient open(ModelSettings settings, String owner, MetricGroup metrics,
                                      UnaryOperator<BatchScorer> predictorWrapper) throws Exception {
        Path downloadDir = settings.downloadDir() != null
                ? Files.createTempDirectory(Files.createDirectories(Path.of(settings.downloadDir())), owner + "-")
                : Files.createTempDirectory("flinkai-model-" + owner + "-");
        DjlModel model = null;
        try {
            ModelArtifacts.LocalModel local = ModelArtifacts.fetch(settings.modelUri(), settings.s3Access(), downloadDir);
            if (settings.sha256() != null) {
                ModelArtifacts.requireSha256(local, settings.sha256());
            }
            model = DjlModel.load(local);
            DjlModelClient client = new DjlModelClient(model, downloadDir, owner, settings, predictorWrapper);
            metrics.gauge("queued", (Gauge<Integer>) client.workers::queued);
            return client;
        } catch (Exception | Error e) {
            if (model != null) {
                model.close();
            }
            deleteRecursively(downloadDir);
            throw e;
        }
    }

    @Override
    public ModelMetadata metadata() {
        return model.metadata();
    }

    @Override
    public CompletableFuture<ModelAnswer> score(float[][] rows, long deadlineNanos) {
        Call call = new Call(rows);
        try {
            workers.submit(call);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            call.answer.completeExceptionally(e);
        }
        return call.answer;
    }

    @Override
    public void close() {
        try {
            workers.close();
        } finally {
            try {
                model.close();
            } finally {
                deleteRecursively(downloadDir);
            }
        }
    }

    private record Call(float[][] rows, CompletableFuture<ModelAnswer> answer) {
        Call(float[][] rows) {
            this(rows, new CompletableFuture<>());
        }
    }

    /** Runs on one worker thread with that thread's predictor. */
    private final class Worker implements WorkerPool.Handler<Call> {
        private final BatchScorer predictor;

        Worker(BatchScorer predictor) {
            this.predictor = predictor;
        }

        @Override
        public void handle(Call call) {
            if (call.answer.isDone()) { // cancelled: nobody waits for it any more
                return;
            }
            try {
                call.answer.complete(new ModelAnswer(predictor.score(call.rows), model.metadata(), ModelAnswer.LOCAL, null));
            } catch (Throwable t) {
                call.answer.completeExceptionally(t);
                if (t instanceof InterruptedException) {
                    Thread.currentThread().interrupt();
                }
            }
        }

        @Override
        public void close() {
            predictor.close();
        }
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
