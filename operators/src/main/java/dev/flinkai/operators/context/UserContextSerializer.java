package dev.flinkai.operators.context;

import dev.flinkai.operators.codec.VarInts;
import dev.flinkai.schemas.Tier;

import org.apache.flink.api.common.typeutils.SimpleTypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.base.TypeSerializerSingleton;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;

import java.io.IOException;

/**
 * Compact binary form of {@link UserContext}: variable-length integers, times as deltas, one byte per recent event
 * plus its latency. A Kryo or POJO serializer would write every long in full and field names or tags besides; this
 * one keeps a busy user near 100 bytes, which is what lets millions of users live in one TaskManager.
 *
 * <p>The first byte is a format version so the layout can evolve without breaking savepoints. Format 2 writes the
 * number of event types before their counts and packs a recent event's type into 3 bits; format 1 (4 types, 2 bits)
 * is read and converted. Format 3 adds the profile's fields after a flag byte. A context written with more event
 * types than this build knows is refused: symbols may be added to {@code EventType}, never removed.
 */
public final class UserContextSerializer extends TypeSerializerSingleton<UserContext> {

    public static final UserContextSerializer INSTANCE = new UserContextSerializer();
    private static final int FORMAT_VERSION = 3;
    private static final int FORMAT_WITHOUT_PROFILE = 2;
    private static final int FORMAT_TWO_BIT_TYPES = 1;
    private static final int FORMAT_1_EVENT_TYPES = 4;

    @Override
    public boolean isImmutableType() {
        return false;
    }

    @Override
    public UserContext createInstance() {
        return new UserContext();
    }

    @Override
    public UserContext copy(UserContext from) {
        return from.copy();
    }

    @Override
    public UserContext copy(UserContext from, UserContext reuse) {
        return from.copy();
    }

    @Override
    public int getLength() {
        return -1;
    }

    @Override
    public void serialize(UserContext c, DataOutputView out) throws IOException {
        out.writeByte(FORMAT_VERSION);
        out.writeByte(c.recentSize);
        for (int age = c.recentSize - 1; age >= 0; age--) { // oldest first, so reading appends in order
            int slot = Math.floorMod(c.recentNext - 1 - age, UserContext.RECENT_CAPACITY);
            out.writeByte(c.recentPacked[slot]);
            writeVarLong(out, c.recentLatencyMillis[slot]);
        }
        writeVarLong(out, c.totalEvents);
        out.writeByte(c.countByType.length);
        for (long count : c.countByType) {
            writeVarLong(out, count);
        }
        writeVarLong(out, c.latencySumMillis);
        writeVarLong(out, c.tokensSum);
        writeVarLong(out, c.taskSuccesses);
        writeVarLong(out, c.taskFailures);
        writeVarLong(out, c.ratingSum);
        writeVarLong(out, c.ratingCount);
        out.writeLong(c.firstEventMillis);
        writeVarLong(out, VarInts.zigZag(c.lastEventMillis - c.firstEventMillis));
        writeVarLong(out, VarInts.zigZag(c.lastEventMillis - c.previousEventMillis));
        out.writeInt(c.sessionHash);
        writeVarLong(out, c.sessionEvents);
        out.writeInt(c.featuresUsedMask);
        out.writeByte(c.profileTier);
        if (c.profileTier != 0) {
            out.writeLong(c.signupMillis);
            out.writeInt(c.preferredFeatureHash);
        }
    }

    @Override
    public UserContext deserialize(DataInputView in) throws IOException {
        int version = in.readUnsignedByte();
        if (version != FORMAT_VERSION && version != FORMAT_WITHOUT_PROFILE && version != FORMAT_TWO_BIT_TYPES) {
            throw new IOException("Unknown UserContext format version " + version);
        }
        UserContext c = new UserContext();
        c.recentSize = in.readUnsignedByte();
        for (int i = 0; i < c.recentSize; i++) {
            byte packed = in.readByte();
            c.recentPacked[i] = version == FORMAT_TWO_BIT_TYPES
                    ? UserContext.pack(packed & 0b11, (packed >> 2) & 0b11, (packed >> 4) & 0b111) : packed;
            c.recentLatencyMillis[i] = (int) readVarLong(in);
        }
        c.recentNext = c.recentSize % UserContext.RECENT_CAPACITY;
        c.totalEvents = readVarLong(in);
        int types = version == FORMAT_TWO_BIT_TYPES ? FORMAT_1_EVENT_TYPES : in.readUnsignedByte();
        if (types > c.countByType.length) {
            throw new IOException("A UserContext with counts of " + types + " event types, but EventType has "
                    + c.countByType.length + " symbols: symbols must never be removed from the schema");
        }
        for (int t = 0; t < types; t++) {
            c.countByType[t] = readVarLong(in);
        }
        c.latencySumMillis = readVarLong(in);
        c.tokensSum = readVarLong(in);
        c.taskSuccesses = (int) readVarLong(in);
        c.taskFailures = (int) readVarLong(in);
        c.ratingSum = (int) readVarLong(in);
        c.ratingCount = (int) readVarLong(in);
        c.firstEventMillis = in.readLong();
        c.lastEventMillis = c.firstEventMillis + VarInts.unZigZag(readVarLong(in));
        c.previousEventMillis = c.lastEventMillis - VarInts.unZigZag(readVarLong(in));
        c.sessionHash = in.readInt();
        c.sessionEvents = (int) readVarLong(in);
        c.featuresUsedMask = in.readInt();
        if (version == FORMAT_VERSION) {
            c.profileTier = in.readByte();
            if (c.profileTier < 0 || c.profileTier > Tier.values().length) {
                throw new IOException("A UserContext with profile tier " + c.profileTier + ", but Tier has "
                        + Tier.values().length + " symbols");
            }
            if (c.profileTier != 0) {
                c.signupMillis = in.readLong();
                c.preferredFeatureHash = in.readInt();
            }
        }
        return c;
    }

    @Override
    public UserContext deserialize(UserContext reuse, DataInputView source) throws IOException {
        return deserialize(source);
    }

    @Override
    public void copy(DataInputView source, DataOutputView target) throws IOException {
        serialize(deserialize(source), target);
    }

    @Override
    public TypeSerializerSnapshot<UserContext> snapshotConfiguration() {
        return new UserContextSerializerSnapshot();
    }

    /** Restores the serializer from savepoints; the format version byte inside each value handles evolution. */
    public static final class UserContextSerializerSnapshot extends SimpleTypeSerializerSnapshot<UserContext> {
        public UserContextSerializerSnapshot() {
            super(() -> INSTANCE);
        }
    }

    private static void writeVarLong(DataOutputView out, long value) throws IOException {
        VarInts.writeUnsigned(out, value);
    }

    private static long readVarLong(DataInputView in) throws IOException {
        return VarInts.readUnsigned(in, "UserContext");
    }
}
