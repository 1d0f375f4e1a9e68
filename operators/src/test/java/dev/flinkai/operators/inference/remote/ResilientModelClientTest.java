package dev.flinkai.operators.inference.remote;

import dev.flinkai.operators.inference.ModelAnswer;
import dev.flinkai.operators.inference.ModelSettings;
import dev.flinkai.operators.inference.djl.DjlModelClient;
import dev.flinkai.operators.inference.resilience.FallbackModelClient;
import dev.flinkai.operators.inference.resilience.ResilientModelClient;
import dev.flinkai.operators.testing.CommittedModel;

import io.github.resilience4j.bulkhead.BulkheadFullException;
import io.github.resilience4j.circuitbreaker.CallNotPermittedException;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.ratelimiter.RequestNotPermitted;
import mockwebserver3.MockResponse;
import mockwebserver3.SocketEffect;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.runtime.metrics.util.InterceptingOperatorMetricGroup;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The resilience policy around the remote client, against a real HTTP server (answering with the committed model)
 * that injects faults: what is retried and what is not, the per-call timeout, the deadline, the breaker's open,
 * half-open and closed states, the rate limit and the bulkhead, and the fallback to the in-process model.
 */
class ResilientModelClientTest {

    private ModelEndpointFixture endpoint;
    private InterceptingOperatorMetricGroup metrics;

    @BeforeEach
    void start() throws Exception {
        endpoint = new ModelEndpointFixture();
        metrics = new InterceptingOperatorMetricGroup();
    }

    @AfterEach
    void stop() {
        endpoint.close();
    }

    private static ResilientModelClient.Policy policy(Duration timeout, int attempts, int concurrent, int perSecond,
                                                      int window, Duration openFor) {
        return new ResilientModelClient.Policy(timeout, attempts, Duration.ofMillis(10), concurrent, perSecond, 50, 100,
                Duration.ofSeconds(10), window, openFor, 2);
    }

    private ResilientModelClient client(ResilientModelClient.Policy policy) throws Exception {
        return new ResilientModelClient(OipModelClient.open(endpoint.modelUri(), null, null, policy.maxConcurrentCalls(),
                Duration.ofSeconds(2), policy.callTimeout(), false), policy, "test", metrics);
    }

    private static ModelAnswer await(CompletableFuture<ModelAnswer> answer) throws Exception {
        return answer.get(20, TimeUnit.SECONDS);
    }

    private static Throwable failureOf(CompletableFuture<ModelAnswer> answer) {
        try {
            answer.get(20, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            return e.getCause();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        throw new AssertionError("the call succeeded");
    }

    private long counter(String name) {
        return ((Counter) metrics.get(name)).getCount();
    }

    @Test
    void overloadAndResetConnectionsAreRetriedWithBackoffUntilTheyWork() throws Exception {
        try (ResilientModelClient client = client(policy(Duration.ofSeconds(2), 4, 4, 0, 20, Duration.ofSeconds(5)))) {
            endpoint.fault(ModelEndpointFixture.json(503, "{\"error\": \"warming up\"}"));
            endpoint.fault(ModelEndpointFixture.json(429, "{\"error\": \"too many\"}"));
            endpoint.fault(new MockResponse.Builder()
                    .onResponseStart(new SocketEffect.CloseSocket(true, false, false)).build());
            ModelAnswer answer = await(client.score(OipModelClientTest.rows(8), Long.MAX_VALUE));

            assertThat(answer.scores()).hasDimensions(8, 4);
            assertThat(endpoint.inferCalls).as("three faults, then the answer").hasValue(4);
            assertThat(counter("remoteRetries")).isEqualTo(3);
            assertThat(counter("remoteFailures")).isEqualTo(3);
        }
    }

    @Test
    void errorsTryingAgainCannotHelpAreNotRetried() throws Exception {
        try (ResilientModelClient client = client(policy(Duration.ofSeconds(2), 4, 4, 0, 20, Duration.ofSeconds(5)))) {
            endpoint.fault(ModelEndpointFixture.json(500, "{\"error\": \"model crashed\"}"));
            assertThat(failureOf(client.score(OipModelClientTest.rows(2), Long.MAX_VALUE)))
                    .isInstanceOf(RemoteModelException.class).hasMessageContaining("HTTP 500");
            endpoint.fault(ModelEndpointFixture.json(200, "not json"));
            assertThat(failureOf(client.score(OipModelClientTest.rows(2), Long.MAX_VALUE)))
                    .hasMessageContaining("not JSON");
            assertThat(endpoint.inferCalls).hasValue(2);
            assertThat(counter("remoteRetries")).isZero();
        }
    }

    @Test
    void aCallSlowerThanTheTimeoutFailsAndIsNotRetried() throws Exception {
        try (ResilientModelClient client = client(policy(Duration.ofMillis(200), 4, 4, 0, 20, Duration.ofSeconds(5)))) {
            endpoint.fault(new MockResponse.Builder().code(200).headersDelay(2, TimeUnit.SECONDS).body("{}").build());
            long start = System.nanoTime();
            assertThat(failureOf(client.score(OipModelClientTest.rows(2), Long.MAX_VALUE)))
                    .isInstanceOf(TimeoutException.class);
            assertThat(System.nanoTime() - start).as("nanos").isLessThan(TimeUnit.SECONDS.toNanos(1));
            assertThat(endpoint.inferCalls).hasValue(1);
        }
    }

    @Test
    void retriesStopAtTheBatchDeadline() throws Exception {
        try (ResilientModelClient client = client(policy(Duration.ofSeconds(2), 50, 4, 0, 1000, Duration.ofSeconds(5)))) {
            for (int i = 0; i < 50; i++) {
                endpoint.fault(ModelEndpointFixture.json(503, "{\"error\": \"busy\"}"));
            }
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(150);
            Throwable failure = failureOf(client.score(OipModelClientTest.rows(2), deadline));
            assertThat(failure).isInstanceOfAny(RemoteModelException.class, TimeoutException.class);
            assertThat(endpoint.inferCalls.get()).as("attempts within 150 ms of 10, 20, 40, ... ms backoff")
                    .isBetween(2, 8);
        }
    }

    @Test
    void theBreakerOpensFailsFastLetsProbesThroughAndClosesWhenTheyPass() throws Exception {
        // window 4: the breaker decides after 2 calls (half the window)
        try (ResilientModelClient client = client(policy(Duration.ofSeconds(2), 1, 4, 0, 4, Duration.ofMillis(500)))) {
            for (int i = 0; i < 2; i++) {
                endpoint.fault(ModelEndpointFixture.json(500, "{\"error\": \"down\"}"));
                assertThat(client.state()).isEqualTo(CircuitBreaker.State.CLOSED);
                failureOf(client.score(OipModelClientTest.rows(1), Long.MAX_VALUE));
            }
            assertThat(client.state()).isEqualTo(CircuitBreaker.State.OPEN);
            assertThat(((Gauge<?>) metrics.get("remoteBreakerState")).getValue()).isEqualTo(1);
            int calls = endpoint.inferCalls.get();
            assertThat(failureOf(client.score(OipModelClientTest.rows(1), Long.MAX_VALUE)))
                    .isInstanceOf(CallNotPermittedException.class);
            assertThat(endpoint.inferCalls).as("an open breaker does not call").hasValue(calls);
            assertThat(counter("remoteBreakerRejected")).isEqualTo(1);

            Thread.sleep(700); // open-for 500 ms: half-open, two probes decide
            assertThat(client.state()).isEqualTo(CircuitBreaker.State.HALF_OPEN);
            await(client.score(OipModelClientTest.rows(1), Long.MAX_VALUE));
            await(client.score(OipModelClientTest.rows(1), Long.MAX_VALUE));
            assertThat(client.state()).isEqualTo(CircuitBreaker.State.CLOSED);
            assertThat(((Gauge<?>) metrics.get("remoteBreakerState")).getValue()).isEqualTo(0);
        }
    }

    @Test
    void slowCallsOpenTheBreakerToo() throws Exception {
        ResilientModelClient.Policy slow = new ResilientModelClient.Policy(Duration.ofSeconds(2), 1, Duration.ofMillis(10),
                4, 0, 100, 50, Duration.ofMillis(100), 4, Duration.ofSeconds(5), 2);
        try (ResilientModelClient client = client(slow)) {
            for (int i = 0; i < 2; i++) {
                endpoint.fault(new MockResponse.Builder().code(200).headersDelay(200, TimeUnit.MILLISECONDS)
                        .setHeader("Content-Type", "application/json").body("{\"outputs\": [{\"shape\": [1, 4], "
                                + "\"data\": [0.1, 0.2, 0.3, 0.4]}]}").build());
                await(client.score(OipModelClientTest.rows(1), Long.MAX_VALUE));
            }
            assertThat(client.state()).as("2 of 2 calls slower than 100 ms, though they answered")
                    .isEqualTo(CircuitBreaker.State.OPEN);
        }
    }

    @Test
    void theRateLimiterAndTheBulkheadRefuseWhatIsOverTheirLimits() throws Exception {
        try (ResilientModelClient client = client(policy(Duration.ofSeconds(2), 1, 10, 2, 100, Duration.ofSeconds(5)))) {
            List<CompletableFuture<ModelAnswer>> calls = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                calls.add(client.score(OipModelClientTest.rows(1), Long.MAX_VALUE));
            }
            long refused = calls.stream().filter(c -> {
                try {
                    c.get(20, TimeUnit.SECONDS);
                    return false;
                } catch (ExecutionException e) {
                    return e.getCause() instanceof RequestNotPermitted;
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            }).count();
            assertThat(refused).as("2 calls per second allowed, 5 made").isEqualTo(3);
            assertThat(counter("remoteRateLimited")).isEqualTo(3);
        }
        metrics = new InterceptingOperatorMetricGroup();
        try (ResilientModelClient client = client(policy(Duration.ofSeconds(5), 1, 2, 0, 100, Duration.ofSeconds(5)))) {
            for (int i = 0; i < 2; i++) {
                endpoint.fault(new MockResponse.Builder().code(200).headersDelay(500, TimeUnit.MILLISECONDS)
                        .setHeader("Content-Type", "application/json").body("{\"outputs\": [{\"shape\": [1, 4], "
                                + "\"data\": [0.1, 0.2, 0.3, 0.4]}]}").build());
            }
            CompletableFuture<ModelAnswer> first = client.score(OipModelClientTest.rows(1), Long.MAX_VALUE);
            CompletableFuture<ModelAnswer> second = client.score(OipModelClientTest.rows(1), Long.MAX_VALUE);
            assertThat(failureOf(client.score(OipModelClientTest.rows(1), Long.MAX_VALUE)))
                    .isInstanceOf(BulkheadFullException.class);
            await(first);
            await(second);
            assertThat(counter("remoteBulkheadFull")).isEqualTo(1);
        }
    }

    @Test
    void whenTheEndpointFailsTheInProcessModelAnswersAndSaysWhy() throws Exception {
        ResilientModelClient.Policy policy = policy(Duration.ofSeconds(2), 1, 4, 0, 20, Duration.ofSeconds(5));
        try (FallbackModelClient client = new FallbackModelClient(client(policy), "remote",
                DjlModelClient.open(ModelSettings.forModel(CommittedModel.uri()), "test", metrics), metrics)) {
            endpoint.fault(ModelEndpointFixture.json(500, "{\"error\": \"model crashed\"}"));
            ModelAnswer fallback = await(client.score(OipModelClientTest.rows(3), Long.MAX_VALUE));
            assertThat(fallback.servedBy()).isEqualTo(ModelAnswer.LOCAL);
            assertThat(fallback.fallbackReason()).startsWith("remote RemoteModelException: HTTP 500");
            assertThat(fallback.scores()).hasDimensions(3, 4);

            ModelAnswer remote = await(client.score(OipModelClientTest.rows(3), Long.MAX_VALUE));
            assertThat(remote.servedBy()).isEqualTo(ModelAnswer.REMOTE);
            assertThat(remote.fallbackReason()).isNull();
            for (int i = 0; i < 3; i++) {
                assertThat(remote.scores()[i]).containsExactly(fallback.scores()[i],
                        org.assertj.core.data.Offset.offset(1e-6f));
            }
            assertThat(counter("fallbacksToSecondary")).isEqualTo(1);
        }
    }
}
