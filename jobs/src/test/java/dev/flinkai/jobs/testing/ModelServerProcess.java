package dev.flinkai.jobs.testing;

import dev.flinkai.operators.testing.CommittedModel;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The project's Open Inference Protocol model server ({@code deploy/model-server/server.py}, Debian's Python, torch and
 * FastAPI) serving the committed model, and the versions of a repository in a temporary directory, as a process of
 * its own on a free port that stays the same across a {@link #stop()} and a {@link #start()}.
 */
public final class ModelServerProcess implements AutoCloseable {

    public static final String PYTHON = "/usr/bin/python3";
    /** Loading torch and the model takes seconds, far more on a loaded 2-core machine. */
    private static final Duration READY_WITHIN = Duration.ofSeconds(180);

    private final int port;
    private final Path script;
    private final Path log;
    private final Path repository;
    private Process process;

    public ModelServerProcess() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        script = CommittedModel.modelFile().getParent().getParent().getParent().resolve("deploy/model-server/server.py");
        log = Files.createTempFile("model-server-", ".log");
        repository = Files.createTempDirectory("model-repository-");
    }

    /** Starts the server and waits until it says it is ready. */
    public ModelServerProcess start() throws Exception {
        if (!Files.isExecutable(Path.of(PYTHON))) {
            throw new IllegalStateException(PYTHON + " is missing: the model server needs Debian's python3-torch, "
                    + "python3-fastapi and python3-uvicorn (deploy/local/up.sh and .ci/run install them)");
        }
        process = new ProcessBuilder(List.of(PYTHON, script.toString(), "--model", CommittedModel.modelFile().toString(),
                "--repository", repository.toString(), "--host", "127.0.0.1", "--port", Integer.toString(port)))
                .redirectErrorStream(true)
                .start();
        CompletableFuture<Void> ready = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader out = new BufferedReader(
                    new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = out.readLine()) != null) {
                    Files.writeString(log, line + "\n", StandardCharsets.UTF_8, StandardOpenOption.APPEND);
                    if (line.contains("model-server ready")) {
                        ready.complete(null);
                    }
                }
                ready.completeExceptionally(new IOException("model server exited: " + Files.readString(log)));
            } catch (IOException e) {
                ready.completeExceptionally(e);
            }
        }, "model-server-output");
        reader.setDaemon(true);
        reader.start();
        ready.get(READY_WITHIN.toSeconds(), TimeUnit.SECONDS);
        return this;
    }

    /**
     * Adds a version to the server's repository as {@code deploy/local/model.sh publish} does: the model file, then
     * its metadata (naming {@code version}) renamed into place, then waits until the server says the version is
     * ready; only then may a model update name it.
     */
    public void publish(String version, Path modelFile, Path metadataFile) throws Exception {
        Path dir = Files.createDirectories(repository.resolve(CommittedModel.NAME).resolve(version));
        Files.copy(modelFile, dir.resolve("model.pt"), StandardCopyOption.REPLACE_EXISTING);
        Path metadata = dir.resolve(".metadata.json.tmp");
        Files.writeString(metadata, Files.readString(metadataFile)
                .replaceFirst("\"version\"\\s*:\\s*\"[^\"]*\"", "\"version\": \"" + version + "\""));
        Files.move(metadata, dir.resolve("metadata.json"), StandardCopyOption.ATOMIC_MOVE,
                StandardCopyOption.REPLACE_EXISTING);
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build(); // uvicorn: no h2c
        HttpRequest ready = HttpRequest.newBuilder(URI.create(versionUri(version) + "/ready"))
                .timeout(READY_WITHIN).build();
        HttpResponse<String> answer = http.send(ready, HttpResponse.BodyHandlers.ofString());
        if (answer.statusCode() != 200) {
            throw new IOException("version " + version + " is not ready: HTTP " + answer.statusCode() + " "
                    + answer.body());
        }
    }

    /** Kills the server, as a crash would. */
    public void stop() throws InterruptedException {
        if (process != null) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            process = null;
        }
    }

    /** The committed model, unversioned. */
    public String modelUri() {
        return "http://127.0.0.1:" + port + "/v2/models/" + CommittedModel.NAME;
    }

    /** A version of the repository. */
    public String versionUri(String version) {
        return modelUri() + "/versions/" + version;
    }

    public String baseUrl() {
        return "http://127.0.0.1:" + port;
    }

    @Override
    public void close() throws Exception {
        stop();
        try (Stream<Path> files = Files.walk(repository)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
