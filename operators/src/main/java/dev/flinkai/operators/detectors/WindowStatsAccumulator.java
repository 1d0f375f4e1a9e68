package dev.flinkai.operators.detectors;

import dev.flinkai.operators.codec.SerializerTypeInfo;

import org.apache.datasketches.kll.KllDoublesSketch;
import org.apache.datasketches.memory.Memory;
import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.api.common.typeutils.SimpleTypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.base.TypeSerializerSingleton;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;

import java.io.IOException;
import java.util.HashMap;
import java.util.Map;

/**
 * What a window of one series has seen so far: counts, the users' and the pipeline's latencies in KLL sketches (Apache
 * DataSketches, k = 200: a few kilobytes whatever the window's size, rank error about 1.3 %), and the predicted labels. Kept in
 * window state with its own serializer (the sketch as DataSketches' compact bytes, stable across its releases).
 */
public final class WindowStatsAccumulator {
    public static final SerializerTypeInfo<WindowStatsAccumulator> TYPE =
            new SerializerTypeInfo<>("WindowStatsAccumulator", WindowStatsAccumulator.class, Serializer.INSTANCE);

    /** The series: set by the first observation (all of a window's share it). */
    String feature = "";
    String modelVersion = "";
    long events;
    long taskOutcomes;
    long taskFailures;
    long predictions;
    long fallbacks;
    long deadLetters;
    KllDoublesSketch latencies = KllDoublesSketch.newHeapInstance();
    KllDoublesSketch pipelineLatencies = KllDoublesSketch.newHeapInstance();
    Map<String, Long> labelCounts = new HashMap<>();

    void add(Observation o) {
        feature = o.feature;
        modelVersion = o.modelVersion;
        events++;
        if (o.deadLetter) {
            deadLetters++;
        }
        if (o.latencyMillis > 0) {
            latencies.update(o.latencyMillis);
        }
        if (o.taskOutcome) {
            taskOutcomes++;
            if (o.taskFailed) {
                taskFailures++;
            }
        }
        if (o.predicted) {
            predictions++;
            if (o.fallback) {
                fallbacks++;
            }
            if (o.label != null) {
                labelCounts.merge(o.label, 1L, Long::sum);
            }
            if (o.pipelineLatencyMillis >= 0) {
                pipelineLatencies.update(o.pipelineLatencyMillis);
            }
        }
    }

    void merge(WindowStatsAccumulator other) {
        if (other.events > 0) {
            feature = other.feature;
            modelVersion = other.modelVersion;
        }
        events += other.events;
        taskOutcomes += other.taskOutcomes;
        taskFailures += other.taskFailures;
        predictions += other.predictions;
        fallbacks += other.fallbacks;
        deadLetters += other.deadLetters;
        latencies.merge(other.latencies);
        pipelineLatencies.merge(other.pipelineLatencies);
        other.labelCounts.forEach((label, n) -> labelCounts.merge(label, n, Long::sum));
    }

    /** The window's statistics; latencies are NaN when it saw none. */
    WindowStats toStats(long windowEndMillis) {
        return new WindowStats(feature, modelVersion, windowEndMillis, events, quantile(latencies, 0.5),
                quantile(latencies, 0.95), quantile(latencies, 0.99), taskOutcomes, taskFailures, predictions, fallbacks,
                labelCounts, quantile(pipelineLatencies, 0.5), quantile(pipelineLatencies, 0.99), deadLetters,
                quantileError(latencies, 0.99));
    }

    /** About one standard error of the quantile at {@code rank}, from the order statistics around it. */
    private static double quantileError(KllDoublesSketch sketch, double rank) {
        if (sketch.isEmpty()) {
            return Double.NaN;
        }
        double rankError = 2 * Math.sqrt(rank * (1 - rank) / sketch.getN());
        return (sketch.getQuantile(Math.min(1, rank + rankError)) - sketch.getQuantile(Math.max(0, rank - rankError)))
                / 4;
    }

    private static double quantile(KllDoublesSketch sketch, double rank) {
        return sketch.isEmpty() ? Double.NaN : sketch.getQuantile(rank);
    }

    /** Adds observations of one series and window up. */
    public static final class Aggregate
            implements AggregateFunction<Observation, WindowStatsAccumulator, WindowStatsAccumulator> {
        private static final long serialVersionUID = 1L;

        @Override
        public WindowStatsAccumulator createAccumulator() {
            return new WindowStatsAccumulator();
        }

        @Override
        public WindowStatsAccumulator add(Observation o, WindowStatsAccumulator acc) {
            acc.add(o);
            return acc;
        }

        @Override
        public WindowStatsAccumulator getResult(WindowStatsAccumulator acc) {
            return acc;
        }

        @Override
        public WindowStatsAccumulator merge(WindowStatsAccumulator a, WindowStatsAccumulator b) {
            a.merge(b);
            return a;
        }
    }

    /** The series, counts, each sketch's compact bytes (length first), then the labels. */
    public static final class Serializer extends TypeSerializerSingleton<WindowStatsAccumulator> {
        private static final long serialVersionUID = 1L;
        public static final Serializer INSTANCE = new Serializer();

        @Override
        public boolean isImmutableType() {
            return false;
        }

        @Override
        public WindowStatsAccumulator createInstance() {
            return new WindowStatsAccumulator();
        }

        @Override
        public WindowStatsAccumulator copy(WindowStatsAccumulator from) {
            WindowStatsAccumulator copy = new WindowStatsAccumulator();
            copy.merge(from);
            return copy;
        }

        @Override
        public WindowStatsAccumulator copy(WindowStatsAccumulator from, WindowStatsAccumulator reuse) {
            return copy(from);
        }

        @Override
        public int getLength() {
            return -1;
        }

        @Override
        public void serialize(WindowStatsAccumulator acc, DataOutputView out) throws IOException {
            out.writeUTF(acc.feature);
            out.writeUTF(acc.modelVersion);
            out.writeLong(acc.events);
            out.writeLong(acc.taskOutcomes);
            out.writeLong(acc.taskFailures);
            out.writeLong(acc.predictions);
            out.writeLong(acc.fallbacks);
            out.writeLong(acc.deadLetters);
            writeSketch(acc.latencies, out);
            writeSketch(acc.pipelineLatencies, out);
            out.writeInt(acc.labelCounts.size());
            for (Map.Entry<String, Long> e : acc.labelCounts.entrySet()) {
                out.writeUTF(e.getKey());
                out.writeLong(e.getValue());
            }
        }

        @Override
        public WindowStatsAccumulator deserialize(DataInputView in) throws IOException {
            WindowStatsAccumulator acc = new WindowStatsAccumulator();
            acc.feature = in.readUTF();
            acc.modelVersion = in.readUTF();
            acc.events = in.readLong();
            acc.taskOutcomes = in.readLong();
            acc.taskFailures = in.readLong();
            acc.predictions = in.readLong();
            acc.fallbacks = in.readLong();
            acc.deadLetters = in.readLong();
            acc.latencies = readSketch(in);
            acc.pipelineLatencies = readSketch(in);
            int labels = in.readInt();
            for (int i = 0; i < labels; i++) {
                acc.labelCounts.put(in.readUTF(), in.readLong());
            }
            return acc;
        }

        private static void writeSketch(KllDoublesSketch sketch, DataOutputView out) throws IOException {
            byte[] bytes = sketch.toByteArray();
            out.writeInt(bytes.length);
            out.write(bytes);
        }

        private static KllDoublesSketch readSketch(DataInputView in) throws IOException {
            byte[] bytes = new byte[in.readInt()];
            in.readFully(bytes);
            return KllDoublesSketch.heapify(Memory.wrap(bytes));
        }

        @Override
        public WindowStatsAccumulator deserialize(WindowStatsAccumulator reuse, DataInputView in) throws IOException {
            return deserialize(in);
        }

        @Override
        public void copy(DataInputView source, DataOutputView target) throws IOException {
            serialize(deserialize(source), target);
        }

        @Override
        public TypeSerializerSnapshot<WindowStatsAccumulator> snapshotConfiguration() {
            return new Snapshot();
        }

        /** Restores the serializer from savepoints. */
        public static final class Snapshot extends SimpleTypeSerializerSnapshot<WindowStatsAccumulator> {
            public Snapshot() {
                super(() -> INSTANCE);
            }
        }
    }
}
