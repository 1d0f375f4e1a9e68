package dev.flinkai.jobs.testing;

import dev.flinkai.operators.testing.CommittedModel;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The project's Open Inference Protocol model server ({@code deploy/model-server/server.py}, Debian's Python, torch and
 * FastAPI) serving the committed model, as a process of its own on a free port that stays the same across a
 * {@link #stop()} and a {@link #start()}.
 */
public final class ModelServerProcess implements AutoCloseable {

    public static final String PYTHON = "/usr/bin/python3";

    private final int port;
    private final Path script;
    private final Path log;
    private Process process;

    public ModelServerProcess() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        script = CommittedModel.modelFile().getParent().getParent().getParent().resolve("deploy/model-server/server.py");
        log = Files.createTempFile("model-server-", ".log");
    }

    /** Starts the server and waits until it says it is ready. */
    public ModelServerProcess start() throws Exception {
        if (!Files.isExecutable(Path.of(PYTHON))) {
            throw new IllegalStateException(PYTHON + " is missing: the model server needs Debian's python3-torch, "
                    + "python3-fastapi and python3-uvicorn (deploy/local/up.sh and .ci/run install them)");
        }
        process = new ProcessBuilder(List.of(PYTHON, script.toString(), "--model", CommittedModel.modelFile().toString(),
                "--host", "127.0.0.1", "--port", Integer.toString(port)))
                .redirectErrorStream(true)
                .start();
        CompletableFuture<Void> ready = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader out = new BufferedReader(
                    new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = out.readLine()) != null) {
                    Files.writeString(log, line + "\n", StandardCharsets.UTF_8,
                            java.nio.file.StandardOpenOption.APPEND);
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
        ready.get(60, TimeUnit.SECONDS);
        return this;
    }

    /** Kills the server, as a crash would. */
    public void stop() throws InterruptedException {
        if (process != null) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            process = null;
        }
    }

    public String modelUri() {
        return "http://127.0.0.1:" + port + "/v2/models/next-event-mlp";
    }

    public String baseUrl() {
        return "http://127.0.0.1:" + port;
    }

    @Override
    public void close() throws InterruptedException {
        stop();
    }
}
