package dev.flinkai.operators.inference;

import dev.flinkai.operators.codec.AvroRecordCodec;
import dev.flinkai.operators.codec.AvroSchemaGuard;
import dev.flinkai.operators.codec.SerializerTypeInfo;
import dev.flinkai.operators.features.ScoringRequest;
import dev.flinkai.operators.ingest.ReceivedRecordSerializer;
import dev.flinkai.schemas.ModelUpdate;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.SimpleTypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.base.TypeSerializerSingleton;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;
import org.apache.flink.types.StringValue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The type of a micro-batch of {@link ScoringRequest}s (events, or one control message) between
 * {@link MicroBatchOperator} and the async inference operator. A batch is immutable once emitted (nobody modifies it
 * or its requests), so {@link #copy} returns it as is:
 * with object reuse on, Flink's async operator copies every input it holds, and a deep copy of each request (two
 * strings, 32 floats) cost about as much as the request's share of the model call. Serialized only when a checkpoint
 * stores the batches still in flight.
 */
public final class ScoringBatchSerializer extends TypeSerializerSingleton<List<ScoringRequest>> {
    private static final long serialVersionUID = 1L;

    public static final ScoringBatchSerializer INSTANCE = new ScoringBatchSerializer();
    @SuppressWarnings("unchecked")
    public static final TypeInformation<List<ScoringRequest>> TYPE =
            new SerializerTypeInfo<>("ScoringBatch", (Class<List<ScoringRequest>>) (Class<?>) List.class, INSTANCE);
    /** Format 3 adds each event's context count; format 2 starts each request with its kind; format 1 held events only. */
    private static final int FORMAT_VERSION = 3;
    private static final int FORMAT_WITH_KINDS = 2;
    private static final int FORMAT_EVENTS_ONLY = 1;
    private static final int EVENT = 0;
    private static final int CONTROL = 1;
    /** Model updates in control messages, in Avro binary (schema guarded by ReceivedRecordSerializer): rare. */
    private static final ThreadLocal<AvroRecordCodec<ModelUpdate>> UPDATES =
            ThreadLocal.withInitial(() -> new AvroRecordCodec<>(ModelUpdate.class));

    static {
        AvroSchemaGuard.requireExactly(ModelUpdate.getClassSchema(), ReceivedRecordSerializer.MODEL_UPDATE_FIELDS,
                "ScoringBatchSerializer writes, in Avro binary of that schema,");
    }

    @Override
    public boolean isImmutableType() {
        return true;
    }

    @Override
    public List<ScoringRequest> createInstance() {
        return new ArrayList<>();
    }

    @Override
    public List<ScoringRequest> copy(List<ScoringRequest> from) {
        return from;
    }

    @Override
    public List<ScoringRequest> copy(List<ScoringRequest> from, List<ScoringRequest> reuse) {
        return from;
    }

    @Override
    public int getLength() {
        return -1;
    }

    @Override
    public void serialize(List<ScoringRequest> batch, DataOutputView out) throws IOException {
        out.writeByte(FORMAT_VERSION);
        out.writeInt(batch.size());
        for (ScoringRequest r : batch) {
            out.writeByte(r.isControl() ? CONTROL : EVENT);
            if (r.isControl()) {
                byte[] bytes = UPDATES.get().encode(r.modelUpdate);
                out.writeInt(bytes.length);
                out.write(bytes);
                continue;
            }
            StringValue.writeString(r.eventId, out);
            StringValue.writeString(r.userId, out);
            out.writeInt(r.priority);
            out.writeLong(r.eventTimeMillis);
            out.writeLong(r.ingestTimeMillis);
            out.writeLong(r.contextEvents);
            if (r.features == null) {
                out.writeInt(-1);
            } else {
                out.writeInt(r.features.length);
                for (float f : r.features) {
                    out.writeFloat(f);
                }
            }
        }
    }

    @Override
    public List<ScoringRequest> deserialize(DataInputView in) throws IOException {
        int version = in.readUnsignedByte();
        if (version != FORMAT_VERSION && version != FORMAT_WITH_KINDS && version != FORMAT_EVENTS_ONLY) {
            throw new IOException("Unknown scoring batch format version " + version);
        }
        int size = in.readInt();
        List<ScoringRequest> batch = new ArrayList<>(size);
        for (int i = 0; i < size; i++) {
            int kind = version == FORMAT_EVENTS_ONLY ? EVENT : in.readUnsignedByte();
            if (kind == CONTROL) {
                byte[] bytes = new byte[in.readInt()];
                in.readFully(bytes);
                batch.add(ScoringRequest.control(UPDATES.get().decode(bytes)));
                continue;
            } else if (kind != EVENT) {
                throw new IOException("Unknown scoring request kind " + kind);
            }
            ScoringRequest r = new ScoringRequest();
            r.eventId = StringValue.readString(in);
            r.userId = StringValue.readString(in);
            r.priority = in.readInt();
            r.eventTimeMillis = in.readLong();
            r.ingestTimeMillis = in.readLong();
            if (version == FORMAT_VERSION) {
                r.contextEvents = in.readLong();
            }
            int features = in.readInt();
            if (features >= 0) {
                r.features = new float[features];
                for (int f = 0; f < features; f++) {
                    r.features[f] = in.readFloat();
                }
            }
            batch.add(r);
        }
        return batch;
    }

    @Override
    public List<ScoringRequest> deserialize(List<ScoringRequest> reuse, DataInputView in) throws IOException {
        return deserialize(in);
    }

    @Override
    public void copy(DataInputView source, DataOutputView target) throws IOException {
        serialize(deserialize(source), target);
    }

    @Override
    public TypeSerializerSnapshot<List<ScoringRequest>> snapshotConfiguration() {
        return new ScoringBatchSerializerSnapshot();
    }

    /** Restores the serializer from checkpoints; the format version byte inside each value handles evolution. */
    public static final class ScoringBatchSerializerSnapshot extends SimpleTypeSerializerSnapshot<List<ScoringRequest>> {
        public ScoringBatchSerializerSnapshot() {
            super(() -> INSTANCE);
        }
    }
}
