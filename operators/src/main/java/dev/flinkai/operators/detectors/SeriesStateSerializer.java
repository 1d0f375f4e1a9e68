package dev.flinkai.operators.detectors;

import dev.flinkai.schemas.AlertKind;
import dev.flinkai.schemas.AlertSeverity;

import org.apache.flink.api.common.typeutils.SimpleTypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.base.TypeSerializerSingleton;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;

import java.io.IOException;

/**
 * The detectors' state of one feature ({@link SeriesState}) in savepoints: the kept windows of each model version and
 * its active alerts, so a restored job continues episodes (no second WARNING, escalation where it was) and compares
 * with the same history. Enums by name, so symbols can be added to the Alert schema. A format version byte leads.
 */
public final class SeriesStateSerializer extends TypeSerializerSingleton<SeriesState> {

    public static final SeriesStateSerializer INSTANCE = new SeriesStateSerializer();
    private static final int FORMAT_VERSION = 1;

    @Override
    public boolean isImmutableType() {
        return false;
    }

    @Override
    public SeriesState createInstance() {
        return new SeriesState();
    }

    /** Through the bytes: the state is small (a few dozen windows) and copied only by the heap backend's snapshots. */
    @Override
    public SeriesState copy(SeriesState from) {
        try {
            DataOutputSerializer out = new DataOutputSerializer(1024);
            serialize(from, out);
            return deserialize(new DataInputDeserializer(out.getSharedBuffer(), 0, out.length()));
        } catch (IOException e) {
            throw new IllegalStateException("Cannot copy the detectors' state", e);
        }
    }

    @Override
    public SeriesState copy(SeriesState from, SeriesState reuse) {
        return copy(from);
    }

    @Override
    public int getLength() {
        return -1;
    }

    @Override
    public void serialize(SeriesState state, DataOutputView out) throws IOException {
        out.writeByte(FORMAT_VERSION);
        out.writeLong(state.lastWindowEndMillis);
        out.writeInt(state.versions.size());
        for (SeriesState.VersionSeries series : state.versions.values()) {
            out.writeUTF(series.version);
            out.writeInt(series.windows.size());
            for (WindowStats window : series.windows) {
                WindowStatsSerializer.INSTANCE.serialize(window, out);
            }
            out.writeInt(series.alerts.byCondition.size());
            for (ActiveAlerts.Condition c : series.alerts.byCondition.values()) {
                out.writeUTF(c.kind.name());
                out.writeUTF(c.key);
                out.writeUTF(c.metric);
                out.writeUTF(c.severity.name());
                out.writeInt(c.firingStreak);
                out.writeInt(c.clearStreak);
                out.writeLong(c.firstSeenMillis);
                out.writeLong(c.lastSeenMillis);
                out.writeDouble(c.value);
                out.writeDouble(c.reference);
                out.writeUTF(c.message);
            }
        }
    }

    @Override
    public SeriesState deserialize(DataInputView in) throws IOException {
        int format = in.readUnsignedByte();
        if (format != FORMAT_VERSION) {
            throw new IOException("Unknown detector state format version " + format);
        }
        SeriesState state = new SeriesState();
        state.lastWindowEndMillis = in.readLong();
        int versions = in.readInt();
        for (int v = 0; v < versions; v++) {
            SeriesState.VersionSeries series = new SeriesState.VersionSeries(in.readUTF());
            int windows = in.readInt();
            for (int i = 0; i < windows; i++) {
                series.windows.add(WindowStatsSerializer.INSTANCE.deserialize(in));
            }
            int conditions = in.readInt();
            for (int i = 0; i < conditions; i++) {
                ActiveAlerts.Condition c = new ActiveAlerts.Condition();
                c.kind = AlertKind.valueOf(in.readUTF());
                c.key = in.readUTF();
                c.metric = in.readUTF();
                c.severity = AlertSeverity.valueOf(in.readUTF());
                c.firingStreak = in.readInt();
                c.clearStreak = in.readInt();
                c.firstSeenMillis = in.readLong();
                c.lastSeenMillis = in.readLong();
                c.value = in.readDouble();
                c.reference = in.readDouble();
                c.message = in.readUTF();
                series.alerts.byCondition.put(c.conditionId(), c);
            }
            state.versions.put(series.version, series);
        }
        return state;
    }

    @Override
    public SeriesState deserialize(SeriesState reuse, DataInputView source) throws IOException {
        return deserialize(source);
    }

    @Override
    public void copy(DataInputView source, DataOutputView target) throws IOException {
        serialize(deserialize(source), target);
    }

    @Override
    public TypeSerializerSnapshot<SeriesState> snapshotConfiguration() {
        return new SeriesStateSerializerSnapshot();
    }

    /** Restores the serializer from savepoints; the format version byte inside each value handles evolution. */
    public static final class SeriesStateSerializerSnapshot extends SimpleTypeSerializerSnapshot<SeriesState> {
        public SeriesStateSerializerSnapshot() {
            super(() -> INSTANCE);
        }
    }
}
