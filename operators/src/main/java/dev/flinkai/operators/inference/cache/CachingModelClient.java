package dev.flinkai.operators.inference.cache;

import dev.flinkai.operators.inference.ModelAnswer;
import dev.flinkai.operators.inference.ModelClient;
import dev.flinkai.operators.inference.ModelMetadata;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;

import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongSupplier;

/**
 * A bounded cache of the wrapped client's answers, per feature row: a batch's rows seen before are answered from the
 * cache, the others go to the wrapped client as one smaller batch (no call when all are cached), and the answers are
 * merged back in order. It answers as the wrapped client would, only sooner; a failed call fails the batch as the
 * wrapped client's would.
 *
 * <p>The key is the model's name and version and the exact values (as {@link Arrays#equals(float[], float[])}) of the
 * features the model reads (the first {@code featureCount} of each row): rows that differ only in features the model
 * ignores share an answer. The cache belongs to one client, and so to one model version: a model swap opens a new
 * client with an empty cache, and the retired one's cache goes with it, so a cached answer is always the serving
 * version's. Only the client's own model's answers are cached: an answer that names another model or version, or a
 * fallback ({@code fallbackReason} set), is passed on uncached; if such an answer meets cached rows in one batch, the
 * whole batch is scored again by the wrapped client, so one answer never mixes two models. The wrapped client must
 * pin one version (an in-process model, or an endpoint URI naming {@code /versions/<v>}): an endpoint that may change
 * the version behind its URI could do so while every row of a batch is cached, unseen. {@code ModelClients} therefore
 * puts the cache around the primary client, inside the {@code FallbackModelClient}: fallback answers never reach it,
 * a failed primary sends the whole batch to the fallback model, and cached rows keep being answered while the
 * endpoint is down.
 *
 * <p>Metrics, in the group it is given: counters {@code cacheHits} and {@code cacheMisses} (rows), {@code cacheEvictions}
 * (entries evicted for size), gauge {@code cacheSize} (entries).
 */
public final class CachingModelClient implements ModelClient {

    private final ModelClient delegate;
    private final ModelMetadata model;
    private final Cache<Key, float[]> cache;
    /** Where the cached answers were computed: the wrapped client's own answers all say the same. */
    private volatile String servedBy;

    /** @param maximumSize the rows whose answers the cache holds at most */
    public CachingModelClient(ModelClient delegate, long maximumSize, MetricGroup metrics) {
        if (maximumSize < 1) {
            throw new IllegalArgumentException("maximumSize must be >= 1, got " + maximumSize);
        }
        this.delegate = delegate;
        this.model = delegate.metadata();
        // Maintenance (eviction) on the thread that writes: the size bound holds when put returns, and no pool is shared.
        this.cache = Caffeine.newBuilder().maximumSize(maximumSize).executor(Runnable::run).recordStats().build();
        metrics.counter("cacheHits", new StatsCounter(() -> cache.stats().hitCount()));
        metrics.counter("cacheMisses", new StatsCounter(() -> cache.stats().missCount()));
        metrics.counter("cacheEvictions", new StatsCounter(() -> cache.stats().evictionCount()));
        metrics.gauge("cacheSize", (Gauge<Long>) cache::estimatedSize);
    }

    @Override
    public ModelMetadata metadata() {
        return model;
    }

    @Override
    public CompletableFuture<ModelAnswer> score(float[][] rows, long deadlineNanos) {
        Key[] keys = new Key[rows.length];
        float[][] scores = new float[rows.length][];
        int[] missed = new int[rows.length];
        int misses = 0;
        try {
            for (int i = 0; i < rows.length; i++) {
                keys[i] = new Key(model, rows[i]);
                float[] cached = cache.getIfPresent(keys[i]);
                if (cached == null) {
                    missed[misses++] = i;
                } else {
                    scores[i] = cached.clone(); // the caller owns the answer; the cached row stays as it was
                }
            }
        } catch (RuntimeException e) { // e.g. a row that is null: the seam fails the future, never the call
            return CompletableFuture.failedFuture(e);
        }
        if (misses == 0) {
            return CompletableFuture.completedFuture(new ModelAnswer(scores, model, servedBy, null));
        }
        int[] positions = Arrays.copyOf(missed, misses);
        float[][] missing = new float[misses][];
        for (int m = 0; m < misses; m++) {
            missing[m] = rows[positions[m]];
        }
        CompletableFuture<ModelAnswer> answer = new CompletableFuture<>();
        CompletableFuture<ModelAnswer> call = delegate.score(missing, deadlineNanos);
        cancelWith(answer, call);
        call.whenComplete((a, failure) -> {
            if (failure != null) {
                answer.completeExceptionally(failure);
            } else if (!own(a)) {
                if (positions.length < rows.length) { // one answer, one model: the wrapped client answers it all
                    CompletableFuture<ModelAnswer> whole = delegate.score(rows, deadlineNanos);
                    cancelWith(answer, whole);
                    whole.whenComplete((b, wholeFailure) -> complete(answer, b, wholeFailure, keys));
                } else {
                    answer.complete(a);
                }
            } else if (a.scores() == null || a.scores().length != positions.length) {
                answer.completeExceptionally(new IllegalStateException("model returned "
                        + (a.scores() == null ? "nothing" : a.scores().length + " rows") + " for " + positions.length));
            } else {
                for (int m = 0; m < positions.length; m++) {
                    scores[positions[m]] = a.scores()[m];
                }
                put(a, keys, positions);
                answer.complete(new ModelAnswer(scores, a.model(), a.servedBy(), null));
            }
        });
        return answer;
    }

    /** Cancelling the answer cancels the call: the wrapped client skips work nobody waits for. */
    private static void cancelWith(CompletableFuture<ModelAnswer> answer, CompletableFuture<ModelAnswer> call) {
        answer.whenComplete((a, t) -> {
            if (answer.isCancelled()) {
                call.cancel(false);
            }
        });
    }

    /** The wrapped client's answer to a whole batch, as it is; cached when it is the own model's. */
    private void complete(CompletableFuture<ModelAnswer> answer, ModelAnswer a, Throwable failure, Key[] keys) {
        if (failure != null) {
            answer.completeExceptionally(failure);
            return;
        }
        if (own(a) && a.scores() != null && a.scores().length == keys.length) {
            int[] all = new int[keys.length];
            Arrays.setAll(all, i -> i);
            put(a, keys, all);
        }
        answer.complete(a);
    }

    private void put(ModelAnswer a, Key[] keys, int[] positions) {
        servedBy = a.servedBy();
        for (int m = 0; m < positions.length; m++) {
            float[] row = a.scores()[m];
            if (row != null) {
                cache.put(keys[positions[m]], row.clone());
            }
        }
    }

    /** The client's own model answered: not a fallback, not another model or version. */
    private boolean own(ModelAnswer a) {
        return a.fallbackReason() == null && a.model() != null && a.model().name().equals(model.name())
                && a.model().version().equals(model.version());
    }

    @Override
    public void close() {
        try {
            delegate.close();
        } finally {
            cache.invalidateAll();
        }
    }

    /** Model name and version, and the features the model reads, compared by value. */
    private static final class Key {
        private final String name;
        private final String version;
        private final float[] features;
        private final int hash;

        Key(ModelMetadata model, float[] row) {
            this.name = model.name();
            this.version = model.version();
            this.features = row.length > model.featureCount() ? Arrays.copyOf(row, model.featureCount()) : row.clone();
            this.hash = 31 * (31 * name.hashCode() + version.hashCode()) + Arrays.hashCode(features);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && hash == k.hash && Arrays.equals(features, k.features)
                    && version.equals(k.version) && name.equals(k.name);
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }

    /** A counter that shows one of the cache's own statistics (which Caffeine counts thread-safely). */
    private static final class StatsCounter implements Counter {
        private final LongSupplier count;

        StatsCounter(LongSupplier count) {
            this.count = count;
        }

        @Override
        public long getCount() {
            return count.getAsLong();
        }

        @Override
        public void inc() {
            throw new UnsupportedOperationException("counted by the cache");
        }

        @Override
        public void inc(long n) {
            throw new UnsupportedOperationException("counted by the cache");
        }

        @Override
        public void dec() {
            throw new UnsupportedOperationException("counted by the cache");
        }

        @Override
        public void dec(long n) {
            throw new UnsupportedOperationException("counted by the cache");
        }
    }
}
