package dev.flinkai.operators.inference.resilience;

import dev.flinkai.operators.inference.ModelAnswer;
import dev.flinkai.operators.inference.ModelClient;
import dev.flinkai.operators.inference.ModelMetadata;
import dev.flinkai.operators.inference.Predictions;

import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;

import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * Graceful degradation: a batch the primary client fails on goes to the secondary (the in-process model), and its
 * answer says so ({@code fallbackReason} names the primary's failure). When both fail, the future fails with both
 * reasons, and the caller answers with the class priors. The primary's metadata is this client's.
 *
 * <p>Metric, in the group it is given: counter {@code fallbacksToSecondary} (batches).
 */
public final class FallbackModelClient implements ModelClient {

    private final ModelClient primary;
    private final ModelClient secondary;
    private final String primaryName;
    private final Counter fallbacks;

    public FallbackModelClient(ModelClient primary, String primaryName, ModelClient secondary, MetricGroup metrics) {
        this.primary = primary;
        this.primaryName = primaryName;
        this.secondary = secondary;
        this.fallbacks = metrics.counter("fallbacksToSecondary");
    }

    @Override
    public ModelMetadata metadata() {
        return primary.metadata();
    }

    @Override
    public CompletableFuture<ModelAnswer> score(float[][] rows, long deadlineNanos) {
        CompletableFuture<ModelAnswer> answer = new CompletableFuture<>();
        CompletableFuture<ModelAnswer> first = primary.score(rows, deadlineNanos);
        answer.whenComplete((a, t) -> {
            if (answer.isCancelled()) {
                first.cancel(false);
            }
        });
        first.whenComplete((a, failure) -> {
            if (failure == null) {
                answer.complete(a);
                return;
            }
            if (answer.isDone()) {
                return;
            }
            String reason = primaryName + " " + describe(failure);
            fallbacks.inc();
            CompletableFuture<ModelAnswer> second = secondary.score(rows, deadlineNanos);
            answer.whenComplete((x, t) -> {
                if (answer.isCancelled()) {
                    second.cancel(false);
                }
            });
            second.whenComplete((b, secondFailure) -> {
                if (secondFailure == null) {
                    answer.complete(b.withFallbackReason(reason));
                } else {
                    answer.completeExceptionally(new IllegalStateException(reason + "; then the fallback model: "
                            + describe(secondFailure), secondFailure));
                }
            });
        });
        return answer;
    }

    private static String describe(Throwable t) {
        Throwable cause = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
        if (cause instanceof CancellationException) {
            return "call cancelled";
        }
        if (cause instanceof io.github.resilience4j.circuitbreaker.CallNotPermittedException) {
            return "circuit breaker open";
        }
        return Predictions.describe(cause);
    }

    @Override
    public void close() {
        try {
            primary.close();
        } finally {
            secondary.close();
        }
    }
}
