package dev.flinkai.operators.testing;

import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.avro.specific.SpecificRecord;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Random;

/** Records written by Avro's own writer, and random text that exercises every UTF-8 length, for codec tests. */
public final class AvroTestRecords {

    private static final String ALPHABET = "abcXYZ019-_ .:äöü€中文😀";

    private AvroTestRecords() {}

    /** {@code record} in Avro binary encoding, as Avro's SpecificDatumWriter writes it. */
    @SuppressWarnings("unchecked")
    public static <T extends SpecificRecord> byte[] avro(T record) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, null);
            new SpecificDatumWriter<>((Class<T>) record.getClass()).write(record, encoder);
            encoder.flush();
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Up to {@code maxLength} code points of 1- to 4-byte UTF-8. */
    public static String text(Random random, int maxLength) {
        StringBuilder s = new StringBuilder();
        int length = random.nextInt(maxLength + 1);
        int codePoints = ALPHABET.codePointCount(0, ALPHABET.length());
        for (int i = 0; i < length; i++) {
            s.appendCodePoint(ALPHABET.codePointAt(ALPHABET.offsetByCodePoints(0, random.nextInt(codePoints))));
        }
        return s.toString();
    }
}
