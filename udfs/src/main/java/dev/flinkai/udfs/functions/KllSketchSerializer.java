package dev.flinkai.udfs.functions;

import org.apache.datasketches.kll.KllDoublesSketch;
import org.apache.datasketches.memory.Memory;
import org.apache.flink.api.common.typeutils.SimpleTypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.base.TypeSerializerSingleton;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;

import java.io.IOException;

/** A KLL sketch in state as DataSketches' own compact bytes (stable across its releases), length first. */
public final class KllSketchSerializer extends TypeSerializerSingleton<KllDoublesSketch> {
    private static final long serialVersionUID = 1L;

    public static final KllSketchSerializer INSTANCE = new KllSketchSerializer();

    @Override
    public boolean isImmutableType() {
        return false;
    }

    @Override
    public KllDoublesSketch createInstance() {
        return KllDoublesSketch.newHeapInstance();
    }

    @Override
    public KllDoublesSketch copy(KllDoublesSketch from) {
        return KllDoublesSketch.heapify(Memory.wrap(from.toByteArray()));
    }

    @Override
    public KllDoublesSketch copy(KllDoublesSketch from, KllDoublesSketch reuse) {
        return copy(from);
    }

    @Override
    public int getLength() {
        return -1;
    }

    @Override
    public void serialize(KllDoublesSketch sketch, DataOutputView out) throws IOException {
        byte[] bytes = sketch.toByteArray();
        out.writeInt(bytes.length);
        out.write(bytes);
    }

    @Override
    public KllDoublesSketch deserialize(DataInputView in) throws IOException {
        byte[] bytes = new byte[in.readInt()];
        in.readFully(bytes);
        return KllDoublesSketch.heapify(Memory.wrap(bytes));
    }

    @Override
    public KllDoublesSketch deserialize(KllDoublesSketch reuse, DataInputView in) throws IOException {
        return deserialize(in);
    }

    @Override
    public void copy(DataInputView source, DataOutputView target) throws IOException {
        int length = source.readInt();
        target.writeInt(length);
        target.write(source, length);
    }

    @Override
    public TypeSerializerSnapshot<KllDoublesSketch> snapshotConfiguration() {
        return new KllSketchSerializerSnapshot();
    }

    /** Restores the serializer from savepoints. */
    public static final class KllSketchSerializerSnapshot extends SimpleTypeSerializerSnapshot<KllDoublesSketch> {
        public KllSketchSerializerSnapshot() {
            super(() -> INSTANCE);
        }
    }
}
