package dev.flinkai.operators.inference;

import dev.flinkai.operators.inference.djl.DjlModelClient;

import java.util.Locale;

/** Chooses the backend of a model URI. */
public final class ModelClients {

    /** By {@code model.uri}: a local path, {@code file:} or {@code s3://} URI is a TorchScript model run in-process by DJL. */
    public static final ModelClientFactory DEFAULT = ModelClients::open;

    private ModelClients() {}

    public static ModelClient open(ModelSettings settings, String owner, org.apache.flink.metrics.MetricGroup metrics)
            throws Exception {
        String uri = settings.modelUri().trim().toLowerCase(Locale.ROOT);
        if (uri.startsWith("http://") || uri.startsWith("https://")) {
            throw new IllegalArgumentException("model.uri " + settings.modelUri()
                    + ": remote model endpoints are not supported by this build");
        }
        return DjlModelClient.open(settings, owner, metrics);
    }
}
