package dev.flinkai.deploy;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/** Renders a kustomization with {@code kubectl kustomize}, as {@code kubectl apply -k} would before sending it. */
final class Kustomize {

    private Kustomize() {}

    static List<ObjectNode> render(Path kustomization) {
        try {
            Path errors = Files.createTempFile("kustomize", ".err");
            Process process = new ProcessBuilder(kubectl().toString(), "kustomize", kustomization.toString())
                    .redirectError(errors.toFile()).start();
            byte[] out = process.getInputStream().readAllBytes();
            if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
                throw new IllegalStateException("kubectl kustomize " + kustomization + " failed: "
                        + Files.readString(errors));
            }
            Files.delete(errors);
            return Yaml.documents(new String(out, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalStateException("kubectl kustomize " + kustomization + " could not run: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** kubectl from PATH or /usr/bin; the checks cannot run without it. */
    static Path kubectl() {
        String path = System.getenv().getOrDefault("PATH", "");
        return Stream.concat(Stream.of(path.split(":")), Stream.of("/usr/bin", "/usr/local/bin"))
                .filter(dir -> !dir.isEmpty())
                .map(dir -> Path.of(dir, "kubectl"))
                .filter(Files::isExecutable)
                .findFirst()
                .orElseThrow(() -> new IllegalStateException("kubectl is not installed (not on PATH, not in /usr/bin): "
                        + "the Kubernetes manifest checks render deploy/k8s with `kubectl kustomize`. Install it: "
                        + "https://kubernetes.io/docs/tasks/tools/"));
    }
}
