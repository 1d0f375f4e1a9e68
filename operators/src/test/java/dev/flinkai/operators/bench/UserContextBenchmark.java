package dev.flinkai.operators.bench;

import dev.flinkai.operators.context.UserContext;
import dev.flinkai.operators.context.UserContextSerializer;
import dev.flinkai.schemas.UserEvent;

import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The per-event state work of {@code UserContextOperator}: fold an event into a warm context, and the
 * (de)serialization RocksDB does on every {@code value()} / {@code update()}.
 *
 * <p>{@code updateRoundTrip} is what one event costs the keyed operator on RocksDB besides the RocksDB calls
 * themselves: deserialize the stored bytes, add the event, serialize again. The serialized size (bytes per op of the
 * state write) is printed as a note at setup.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class UserContextBenchmark {

    private static final int EVENTS = 4096; // power of two: index with a mask
    private static final int MASK = EVENTS - 1;

    private UserEvent[] events;
    private UserContext context;
    private byte[] serialized;
    private final DataOutputSerializer out = new DataOutputSerializer(256);
    private final DataInputDeserializer in = new DataInputDeserializer();
    private int next;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        events = BenchData.events(EVENTS);
        context = BenchData.warmContext(200);
        out.clear();
        UserContextSerializer.INSTANCE.serialize(context, out);
        serialized = out.getCopyOfBuffer();
        printSizeNote();
    }

    /** Folds one event into a warm context (ring buffer full, aggregates non-zero). */
    @Benchmark
    public UserContext add() {
        context.add(events[next++ & MASK]);
        return context;
    }

    /** Serializes a warm context into a reused buffer; returns the byte count. */
    @Benchmark
    public int serialize() throws IOException {
        out.clear();
        UserContextSerializer.INSTANCE.serialize(context, out);
        return out.length();
    }

    /** Deserializes a warm context's bytes (a fresh UserContext per call, as the serializer does). */
    @Benchmark
    public UserContext deserialize() throws IOException {
        in.setBuffer(serialized);
        return UserContextSerializer.INSTANCE.deserialize(in);
    }

    /** deserialize + add + serialize: the keyed state work per event on the RocksDB backend. */
    @Benchmark
    public int updateRoundTrip() throws IOException {
        in.setBuffer(serialized);
        UserContext c = UserContextSerializer.INSTANCE.deserialize(in);
        c.add(events[next++ & MASK]);
        out.clear();
        UserContextSerializer.INSTANCE.serialize(c, out);
        return out.length();
    }

    /** Serialized sizes over the simulated population, so a layout regression shows next to the timings. */
    private static void printSizeNote() throws IOException {
        Map<String, UserContext> contexts = new HashMap<>();
        for (UserEvent e : BenchData.events(100_000)) {
            contexts.computeIfAbsent(e.getUserId().toString(), k -> new UserContext()).add(e);
        }
        DataOutputSerializer buf = new DataOutputSerializer(256);
        long bytes = 0;
        long warmBytes = 0;
        int warm = 0;
        int max = 0;
        for (UserContext c : contexts.values()) {
            buf.clear();
            UserContextSerializer.INSTANCE.serialize(c, buf);
            bytes += buf.length();
            max = Math.max(max, buf.length());
            if (c.totalEvents() >= UserContext.RECENT_CAPACITY) {
                warm++;
                warmBytes += buf.length();
            }
        }
        buf.clear();
        UserContextSerializer.INSTANCE.serialize(BenchData.warmContext(200), buf);
        System.out.printf("NOTE UserContext serialized bytes: benchmark context (200 events) %d B/op; "
                        + "simulated population after 100k events: %d users, mean %.1f B, max %d B; "
                        + "warm users (>= %d events): %d, mean %.1f B%n",
                buf.length(), contexts.size(), (double) bytes / contexts.size(), max,
                UserContext.RECENT_CAPACITY, warm, warm == 0 ? 0.0 : (double) warmBytes / warm);
    }
}
