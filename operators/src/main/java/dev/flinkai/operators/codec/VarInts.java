package dev.flinkai.operators.typeutils;

import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;

import java.io.IOException;

/** Unsigned variable-length longs (7 bits per byte, low bits first), as the project's hand-written serializers use. */
public final class VarLongs {

    private VarLongs() {}

    public static void write(DataOutputView out, long value) throws IOException {
        while ((value & ~0x7FL) != 0) {
            out.writeByte((int) ((value & 0x7F) | 0x80));
            value >>>= 7;
        }
        out.writeByte((int) value);
    }

    /** @param what names the value being read, for the error on malformed input */
    public static long read(DataInputView in, String what) throws IOException {
        long result = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            int b = in.readUnsignedByte();
            result |= (long) (b & 0x7F) << shift;
            if ((b & 0x80) == 0) {
                return result;
            }
        }
        throw new IOException("Malformed variable-length integer in " + what);
    }
}
