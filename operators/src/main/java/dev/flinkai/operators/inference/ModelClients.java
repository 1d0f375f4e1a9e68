package dev.flinkai.operators.inference;

import dev.flinkai.operators.inference.cache.CachingModelClient;
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
 * With {@code settings.cacheSize()} above 0, a {@link CachingModelClient} sits right around the backend (and its
 * resilience policy), inside the fallback: only the serving model's own answers are cached, a batch the endpoint fails
 * on goes to the fallback model whole, and cached rows are still answered while the endpoint is down. A remote model
 * must then name its version in the URI, so that every answer cached under a version is that version's.
 */
public final class ModelClients {

    /** The backend {@code settings.modelUri()} names, decorated as above. */
    public static final ModelClientFactory DEFAULT = ModelClients::open;

    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(2);

    private ModelClients() {}

    public static ModelClient open(ModelSettings settings, String owner, MetricGroup metrics) throws Exception {
        if (!settings.remote()) {
            return cached(DjlModelClient.open(settings, owner, metrics), settings, metrics);
        }
        if (settings.cacheSize() > 0 && !OipModelClient.pinsVersion(settings.modelUri())) {
            throw new IllegalArgumentException("A result cache needs a model URI that names its version "
                    + "(.../versions/<v>), not " + settings.modelUri() + ": the endpoint could change the version it "
                    + "serves there while the cache answers with the previous one's scores");
        }
        ModelClient local = settings.fallbackUri() == null ? null
                : DjlModelClient.open(settings.withModelUri(settings.fallbackUri()), owner, metrics);
        try {
            ResilientModelClient.Policy policy = settings.remotePolicy();
            int connections = policy.maxConcurrentCalls() > 0 ? policy.maxConcurrentCalls() : settings.queueCapacity();
            OipModelClient endpoint = OipModelClient.open(settings.modelUri(), local == null ? null : local.metadata(),
                    settings.sha256(), connections, CONNECT_TIMEOUT, policy.callTimeout(), settings.remoteGzip())
                    .requestPriority(settings.requestPriority());
            ModelClient remote = cached(new ResilientModelClient(endpoint, policy, owner, metrics), settings, metrics);
            return local == null ? remote : new FallbackModelClient(remote, "remote", local, metrics);
        } catch (Exception | Error e) {
            if (local != null) {
                local.close();
            }
            throw e;
        }
    }

    private static ModelClient cached(ModelClient client, ModelSettings settings, MetricGroup metrics) {
        return settings.cacheSize() > 0 ? new CachingModelClient(client, settings.cacheSize(), metrics) : client;
    }
}
