package dev.flinkai.operators.detectors;

import dev.flinkai.operators.codec.SerializerTypeInfo;

import org.apache.flink.api.common.typeutils.SimpleTypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.base.TypeSerializerSingleton;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;

import java.io.IOException;
import java.util.HashMap;
import java.util.Map;

/**
 * {@link WindowStats} between the statistics stage and the detectors and inside the detectors' state: a record with
 * a map would otherwise fall back to Kryo, whose bytes cannot evolve with the class. A format version byte leads,
 * so fields can be added without breaking savepoints.
 */
public final class WindowStatsSerializer extends TypeSerializerSingleton<WindowStats> {

    public static final WindowStatsSerializer INSTANCE = new WindowStatsSerializer();
    /** The type information of a stream of {@link WindowStats}. */
    public static final SerializerTypeInfo<WindowStats> TYPE =
            new SerializerTypeInfo<>("WindowStats", WindowStats.class, INSTANCE);
    private static final int FORMAT_VERSION = 1;

    @Override
    public boolean isImmutableType() {
        return true;
    }

    @Override
    public WindowStats createInstance() {
        return new WindowStats("", "", 0, 0, Double.NaN, Double.NaN, Double.NaN, 0, 0, 0, 0, Map.of(), Double.NaN,
                Double.NaN, 0, Double.NaN);
    }

    @Override
    public WindowStats copy(WindowStats from) {
        return from;
    }

    @Override
    public WindowStats copy(WindowStats from, WindowStats reuse) {
        return from;
    }

    @Override
    public int getLength() {
        return -1;
    }

    @Override
    public void serialize(WindowStats w, DataOutputView out) throws IOException {
        out.writeByte(FORMAT_VERSION);
        out.writeUTF(w.feature());
        out.writeUTF(w.modelVersion());
        out.writeLong(w.windowEndMillis());
        out.writeLong(w.events());
        out.writeDouble(w.latencyP50Millis());
        out.writeDouble(w.latencyP95Millis());
        out.writeDouble(w.latencyP99Millis());
        out.writeLong(w.taskOutcomes());
        out.writeLong(w.taskFailures());
        out.writeLong(w.predictions());
        out.writeLong(w.fallbacks());
        out.writeInt(w.labelCounts().size());
        for (Map.Entry<String, Long> label : w.labelCounts().entrySet()) {
            out.writeUTF(label.getKey());
            out.writeLong(label.getValue());
        }
        out.writeDouble(w.pipelineP50Millis());
        out.writeDouble(w.pipelineP99Millis());
        out.writeLong(w.deadLetters());
        out.writeDouble(w.latencyP99ErrorMillis());
    }

    @Override
    public WindowStats deserialize(DataInputView in) throws IOException {
        int version = in.readUnsignedByte();
        if (version != FORMAT_VERSION) {
            throw new IOException("Unknown WindowStats format version " + version);
        }
        String feature = in.readUTF();
        String modelVersion = in.readUTF();
        long windowEnd = in.readLong();
        long events = in.readLong();
        double p50 = in.readDouble();
        double p95 = in.readDouble();
        double p99 = in.readDouble();
        long outcomes = in.readLong();
        long failures = in.readLong();
        long predictions = in.readLong();
        long fallbacks = in.readLong();
        int labels = in.readInt();
        Map<String, Long> labelCounts = new HashMap<>();
        for (int i = 0; i < labels; i++) {
            labelCounts.put(in.readUTF(), in.readLong());
        }
        return new WindowStats(feature, modelVersion, windowEnd, events, p50, p95, p99, outcomes, failures,
                predictions, fallbacks, labelCounts, in.readDouble(), in.readDouble(), in.readLong(), in.readDouble());
    }

    @Override
    public WindowStats deserialize(WindowStats reuse, DataInputView source) throws IOException {
        return deserialize(source);
    }

    @Override
    public void copy(DataInputView source, DataOutputView target) throws IOException {
        serialize(deserialize(source), target);
    }

    @Override
    public TypeSerializerSnapshot<WindowStats> snapshotConfiguration() {
        return new WindowStatsSerializerSnapshot();
    }

    /** Restores the serializer from savepoints; the format version byte inside each value handles evolution. */
    public static final class WindowStatsSerializerSnapshot extends SimpleTypeSerializerSnapshot<WindowStats> {
        public WindowStatsSerializerSnapshot() {
            super(() -> INSTANCE);
        }
    }
}
