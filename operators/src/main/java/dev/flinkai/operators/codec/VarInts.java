package dev.flinkai.operators.codec;

import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;

/**
 * Variable-length integers, 7 bits per byte, low bits first: unsigned in the project's state and shuffle formats,
 * zig-zag encoded in Avro's binary encoding of int and long. Every hand-written codec uses this one implementation.
 */
public final class VarInts {

    private VarInts() {}

    public static void writeUnsigned(DataOutput out, long value) throws IOException {
        while ((value & ~0x7FL) != 0) {
            out.writeByte((int) ((value & 0x7F) | 0x80));
            value >>>= 7;
        }
        out.writeByte((int) value);
    }

    /** @param what names the value being read, for the error on malformed input */
    public static long readUnsigned(DataInput in, String what) throws IOException {
        long result = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            int b = in.readUnsignedByte();
            result |= (long) (b & 0x7F) << shift;
            if ((b & 0x80) == 0) {
                return result;
            }
        }
        throw new IOException("malformed variable-length integer in " + what);
    }

    /** Avro's int and long: zig-zag, so that small negative numbers stay short. */
    public static void writeZigZag(DataOutput out, long value) throws IOException {
        writeUnsigned(out, (value << 1) ^ (value >> 63));
    }

    public static long readZigZag(DataInput in, String what) throws IOException {
        long raw = readUnsigned(in, what);
        return (raw >>> 1) ^ -(raw & 1);
    }

    /** An Avro int: a zig-zag long that must fit 32 bits. */
    public static int readZigZagInt(DataInput in, String what) throws IOException {
        long value = readZigZag(in, what);
        if (value != (int) value) {
            throw new IOException(what + ": int out of range: " + value);
        }
        return (int) value;
    }

    public static long zigZag(long value) {
        return (value << 1) ^ (value >> 63);
    }

    public static long unZigZag(long raw) {
        return (raw >>> 1) ^ -(raw & 1);
    }
}
