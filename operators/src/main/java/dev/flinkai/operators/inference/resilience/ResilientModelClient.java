package dev.flinkai.operators.inference.resilience;

import dev.flinkai.operators.inference.ModelAnswer;
import dev.flinkai.operators.inference.ModelClient;
import dev.flinkai.operators.inference.ModelMetadata;
import dev.flinkai.operators.inference.remote.RemoteModelException;

import io.github.resilience4j.bulkhead.Bulkhead;
import io.github.resilience4j.bulkhead.BulkheadConfig;
import io.github.resilience4j.bulkhead.BulkheadFullException;
import io.github.resilience4j.circuitbreaker.CallNotPermittedException;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.core.IntervalFunction;
import io.github.resilience4j.ratelimiter.RateLimiter;
import io.github.resilience4j.ratelimiter.RateLimiterConfig;
import io.github.resilience4j.ratelimiter.RequestNotPermitted;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import io.github.resilience4j.timelimiter.TimeLimiter;
import io.github.resilience4j.timelimiter.TimeLimiterConfig;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * A model client behind resilience4j, in its usual order: retry( circuit breaker( rate limiter( time limiter(
 * bulkhead( call ))))).
 * <ul>
 *   <li>bulkhead: at most {@code maxConcurrentCalls} calls in flight; more fail at once;</li>
 *   <li>time limiter: a call that takes longer than {@code callTimeout} fails and is cancelled;</li>
 *   <li>rate limiter: at most {@code callsPerSecond} calls start per second (0: no limit); more fail at once;</li>
 *   <li>circuit breaker: opens when the failure rate or the slow-call rate of the last {@code window} calls passes its
 *       threshold, fails calls at once while open, and lets {@code halfOpenCalls} probes through after
 *       {@code openFor};</li>
 *   <li>retry: only failures that trying again can help ({@link RemoteModelException#retryable()}: a connection
 *       refused or reset, 429, 503), with exponential backoff and jitter, and never past the batch's deadline.</li>
 * </ul>
 * Every failure reaches the caller as the future's exception; falling back is the caller's (or a
 * {@link FallbackModelClient}'s) business.
 *
 * <p>Metrics, in the group it is given: gauge {@code remoteBreakerState} (0 closed, 1 open, 2 half-open, 3 other),
 * counters {@code remoteCalls}, {@code remoteFailures}, {@code remoteRetries}, {@code remoteRateLimited},
 * {@code remoteBulkheadFull}, {@code remoteBreakerRejected}, histogram {@code remoteCallMillis} (each call's duration).
 */
public final class ResilientModelClient implements ModelClient {

    /** The resilience settings of one client; {@code maxConcurrentCalls} 0 means as many as the caller makes. */
    public record Policy(Duration callTimeout, int maxAttempts, Duration retryBackoff, int maxConcurrentCalls,
                         int callsPerSecond, float failureRatePercent, float slowCallRatePercent, Duration slowCall,
                         int window, Duration openFor, int halfOpenCalls) implements java.io.Serializable {

        public Policy withMaxConcurrentCalls(int calls) {
            return new Policy(callTimeout, maxAttempts, retryBackoff, calls, callsPerSecond, failureRatePercent,
                    slowCallRatePercent, slowCall, window, openFor, halfOpenCalls);
        }
    }

    private final ModelClient delegate;
    private final Bulkhead bulkhead;
    private final TimeLimiter timeLimiter;
    private final RateLimiter rateLimiter;
    private final CircuitBreaker breaker;
    private final Retry retry;
    private final ScheduledExecutorService scheduler;
    private final Counter calls;
    private final Counter failures;
    private final Counter rateLimited;
    private final Counter bulkheadFull;
    private final Counter breakerRejected;
    private final Histogram callMillis;

    public ResilientModelClient(ModelClient delegate, Policy policy, String name, MetricGroup metrics) {
        this.delegate = delegate;
        this.bulkhead = Bulkhead.of(name, BulkheadConfig.custom()
                .maxConcurrentCalls(policy.maxConcurrentCalls() > 0 ? policy.maxConcurrentCalls() : Integer.MAX_VALUE)
                .maxWaitDuration(Duration.ZERO)
                .build());
        this.timeLimiter = TimeLimiter.of(name, TimeLimiterConfig.custom()
                .timeoutDuration(policy.callTimeout())
                .cancelRunningFuture(true)
                .build());
        this.rateLimiter = policy.callsPerSecond() <= 0 ? null : RateLimiter.of(name, RateLimiterConfig.custom()
                .limitForPeriod(policy.callsPerSecond())
                .limitRefreshPeriod(Duration.ofSeconds(1))
                .timeoutDuration(Duration.ZERO)
                .build());
        this.breaker = CircuitBreaker.of(name, CircuitBreakerConfig.custom()
                .slidingWindowType(CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
                .slidingWindowSize(policy.window())
                .minimumNumberOfCalls(Math.max(1, policy.window() / 2))
                .failureRateThreshold(policy.failureRatePercent())
                .slowCallRateThreshold(policy.slowCallRatePercent())
                .slowCallDurationThreshold(policy.slowCall())
                .waitDurationInOpenState(policy.openFor())
                .permittedNumberOfCallsInHalfOpenState(policy.halfOpenCalls())
                .automaticTransitionFromOpenToHalfOpenEnabled(true)
                // Refused before they reached the endpoint: they say nothing about its health.
                .ignoreExceptions(RequestNotPermitted.class, BulkheadFullException.class, DeadlinePassed.class)
                .build());
        this.retry = Retry.of(name, RetryConfig.<ModelAnswer>custom()
                .maxAttempts(Math.max(1, policy.maxAttempts()))
                .intervalFunction(IntervalFunction.ofExponentialRandomBackoff(policy.retryBackoff(), 2.0, 0.5))
                .retryOnException(ResilientModelClient::retryable)
                .failAfterMaxAttempts(false)
                .build());
        this.scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "model-client-" + name);
            t.setDaemon(true);
            return t;
        });

        calls = metrics.counter("remoteCalls");
        failures = metrics.counter("remoteFailures");
        Counter retries = metrics.counter("remoteRetries");
        rateLimited = metrics.counter("remoteRateLimited");
        bulkheadFull = metrics.counter("remoteBulkheadFull");
        breakerRejected = metrics.counter("remoteBreakerRejected");
        callMillis = metrics.histogram("remoteCallMillis", new DescriptiveStatisticsHistogram(10_000));
        metrics.gauge("remoteBreakerState", (Gauge<Integer>) this::breakerState);
        retry.getEventPublisher().onRetry(event -> retries.inc());
    }

    /** Only failures where another attempt can help, and never once the deadline is near. */
    static boolean retryable(Throwable t) {
        Throwable cause = unwrap(t);
        return cause instanceof RemoteModelException remote && remote.retryable();
    }

    @Override
    public ModelMetadata metadata() {
        return delegate.metadata();
    }

    @Override
    public CompletableFuture<ModelAnswer> score(float[][] rows, long deadlineNanos) {
        Supplier<CompletionStage<ModelAnswer>> attempt = () -> call(rows, deadlineNanos);
        Supplier<CompletionStage<ModelAnswer>> guarded = Bulkhead.decorateCompletionStage(bulkhead, attempt);
        Supplier<CompletionStage<ModelAnswer>> limited = TimeLimiter.decorateCompletionStage(timeLimiter, scheduler, guarded);
        Supplier<CompletionStage<ModelAnswer>> rated = rateLimiter == null ? limited
                : RateLimiter.decorateCompletionStage(rateLimiter, limited);
        Supplier<CompletionStage<ModelAnswer>> broken = CircuitBreaker.decorateCompletionStage(breaker, rated);
        CompletableFuture<ModelAnswer> answer = new CompletableFuture<>();
        Retry.decorateCompletionStage(retry, scheduler, broken).get().whenComplete((a, failure) -> {
            if (failure == null) {
                answer.complete(a);
                return;
            }
            Throwable cause = unwrap(failure);
            if (cause instanceof RequestNotPermitted) {
                rateLimited.inc();
            } else if (cause instanceof BulkheadFullException) {
                bulkheadFull.inc();
            } else if (cause instanceof CallNotPermittedException) {
                breakerRejected.inc();
            }
            answer.completeExceptionally(cause);
        });
        return answer;
    }

    /** One attempt: refused when the batch's deadline has passed, timed otherwise. */
    private CompletionStage<ModelAnswer> call(float[][] rows, long deadlineNanos) {
        long start = System.nanoTime();
        if (start >= deadlineNanos) {
            return CompletableFuture.failedFuture(new DeadlinePassed());
        }
        calls.inc();
        CompletableFuture<ModelAnswer> call = delegate.score(rows, deadlineNanos);
        call.whenComplete((a, t) -> {
            callMillis.update((System.nanoTime() - start) / 1_000_000);
            if (t != null) {
                failures.inc();
            }
        });
        return call;
    }

    private int breakerState() {
        return switch (breaker.getState()) {
            case CLOSED -> 0;
            case OPEN, FORCED_OPEN -> 1;
            case HALF_OPEN -> 2;
            default -> 3;
        };
    }

    /** The breaker's state, for tests and logs. */
    public CircuitBreaker.State state() {
        return breaker.getState();
    }

    private static Throwable unwrap(Throwable t) {
        Throwable cause = t;
        while (cause instanceof CompletionException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        return cause;
    }

    @Override
    public void close() {
        scheduler.shutdownNow();
        delegate.close();
    }

    /** The batch's deadline passed before another attempt could start. */
    public static final class DeadlinePassed extends TimeoutException {
        private static final long serialVersionUID = 1L;

        DeadlinePassed() {
            super("the batch's deadline passed before another attempt");
        }
    }
}
