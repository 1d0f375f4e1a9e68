package dev.flinkai.operators.inference;

import dev.flinkai.operators.inference.djl.DjlModelClient;
import dev.flinkai.operators.inference.remote.OipModelClient;
import dev.flinkai.operators.inference.resilience.FallbackModelClient;
import dev.flinkai.operators.inference.resilience.ResilientModelClient;

import org.apache.flink.metrics.MetricGroup;

import java.time.Duration;

/**
 * Chooses the backend of a model URI and puts the decorators around it:
 * <ul>
 *   <li>a local path, {@code file:} or {@code s3://} URI: a TorchScript model run in-process by DJL;</li>
 *   <li>{@code http(s)://host:port/v2/models/<name>[/versions/<v>]}: an Open Inference Protocol endpoint, behind the
 *       resilience policy ({@link ResilientModelClient}) and, with a fallback URI, falling back to that model run
 *       in-process ({@link FallbackModelClient}).</li>
 * </ul>
 */
public final class ModelClients {

    /** The backend {@code settings.modelUri()} names, decorated as above. */
    public static final ModelClientFactory DEFAULT = ModelClients::open;

    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(2);

    private ModelClients() {}

    public static ModelClient open(ModelSettings settings, String owner, MetricGroup metrics) throws Exception {
        if (!settings.remote()) {
            return DjlModelClient.open(settings, owner, metrics);
        }
        ModelClient local = settings.fallbackUri() == null ? null
                : DjlModelClient.open(settings.withModelUri(settings.fallbackUri()), owner, metrics);
        try {
            ResilientModelClient.Policy policy = settings.remotePolicy();
            int connections = policy.maxConcurrentCalls() > 0 ? policy.maxConcurrentCalls() : settings.queueCapacity();
            ModelClient remote = new ResilientModelClient(OipModelClient.open(settings.modelUri(),
                    local == null ? null : local.metadata(), settings.sha256(), connections, CONNECT_TIMEOUT, policy.callTimeout(),
                    settings.remoteGzip()), policy, owner, metrics);
            return local == null ? remote : new FallbackModelClient(remote, "remote", local, metrics);
        } catch (Exception | Error e) {
            if (local != null) {
                local.close();
            }
            throw e;
        }
    }
}
