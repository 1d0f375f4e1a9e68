package dev.flinkai.operators.bench;

import dev.flinkai.operators.codec.UserEventDecoder;
import dev.flinkai.operators.ingest.ReceivedRecord;
import dev.flinkai.operators.ingest.ReceivedRecordSerializer;
import dev.flinkai.schemas.AvroCoders;
import dev.flinkai.schemas.Prediction;
import dev.flinkai.schemas.UserEvent;

import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.flink.api.common.serialization.SerializerConfigImpl;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
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

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Each hand-written codec against what would replace it: Avro's generated coders ({@link AvroCoders} on) for the
 * Kafka source, Flink's Avro serializer (flink-avro, generated coders on) for the keyed shuffle. Realistic records:
 * the simulator's events. A hand-written codec stays only where it wins by a margin worth its code (each one's class
 * comment quotes its figure). The predictions sink lost its own encoder this way: Avro's generated writer took 134 ns
 * per prediction, the hand-written one 180 ns; {@code encodePredictionAvro} keeps that figure in view.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class CodecBenchmark {

    private static final int N = 1024; // power of two: index with a mask
    private static final int MASK = N - 1;

    private byte[][] eventBytes;
    private Prediction[] predictions;
    private ReceivedRecord[] records;
    private int next;

    private final UserEventDecoder decoder = new UserEventDecoder();
    private final SpecificDatumReader<UserEvent> avroReader = new SpecificDatumReader<>(UserEvent.class);
    private BinaryDecoder avroDecoder;

    private final SpecificDatumWriter<Prediction> avroWriter = new SpecificDatumWriter<>(Prediction.class);
    private final ByteArrayOutputStream avroOut = new ByteArrayOutputStream(256);
    private BinaryEncoder avroEncoder;

    private final DataOutputSerializer shuffleOut = new DataOutputSerializer(256);
    private final DataInputDeserializer shuffleIn = new DataInputDeserializer();
    private TypeSerializer<UserEvent> flinkAvro;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        AvroCoders.enable();
        flinkAvro = new AvroTypeInfo<>(UserEvent.class).createSerializer(new SerializerConfigImpl());
        UserEvent[] events = BenchData.events(N);
        eventBytes = new byte[N][];
        predictions = new Prediction[N];
        records = new ReceivedRecord[N];
        for (int i = 0; i < N; i++) {
            UserEvent e = events[i];
            avroOut.reset();
            BinaryEncoder enc = EncoderFactory.get().binaryEncoder(avroOut, null);
            new SpecificDatumWriter<>(UserEvent.class).write(e, enc);
            enc.flush();
            eventBytes[i] = avroOut.toByteArray();
            predictions[i] = new Prediction(e.getEventId(), e.getUserId(), "next_event_mlp", "1.0",
                    List.of(0.61f, 0.2f, 0.09f, 0.1f), "QUERY", false, null, e.getEventTimeMillis(),
                    e.getEventTimeMillis() + 3, e.getEventTimeMillis() + 9, "local", (long) i + 1);
            records[i] = ReceivedRecord.valid(e, e.getEventTimeMillis() + 3);
        }
    }

    @Benchmark
    public UserEvent decodeUserEventHandWritten() throws IOException {
        return decoder.decode(eventBytes[next++ & MASK]);
    }

    @Benchmark
    public UserEvent decodeUserEventAvro() throws IOException {
        avroDecoder = DecoderFactory.get().binaryDecoder(eventBytes[next++ & MASK], avroDecoder);
        return avroReader.read(null, avroDecoder);
    }


    @Benchmark
    public byte[] encodePredictionAvro() throws IOException {
        avroOut.reset();
        avroEncoder = EncoderFactory.get().binaryEncoder(avroOut, avroEncoder);
        avroWriter.write(predictions[next++ & MASK], avroEncoder);
        avroEncoder.flush();
        return avroOut.toByteArray();
    }

    /** The keyed shuffle: write a record to the network buffer, read it on the other side. */
    @Benchmark
    public ReceivedRecord shuffleHandWritten() throws IOException {
        shuffleOut.clear();
        ReceivedRecordSerializer.INSTANCE.serialize(records[next++ & MASK], shuffleOut);
        shuffleIn.setBuffer(shuffleOut.getSharedBuffer(), 0, shuffleOut.length());
        return ReceivedRecordSerializer.INSTANCE.deserialize(shuffleIn);
    }

    /** The same with Flink's Avro serializer for the event, around the same two fields. */
    @Benchmark
    public ReceivedRecord shuffleFlinkAvro() throws IOException {
        ReceivedRecord record = records[next++ & MASK];
        shuffleOut.clear();
        shuffleOut.writeLong(record.ingestTimeMillis);
        shuffleOut.writeByte(1);
        flinkAvro.serialize(record.event, shuffleOut);
        shuffleIn.setBuffer(shuffleOut.getSharedBuffer(), 0, shuffleOut.length());
        long ingest = shuffleIn.readLong();
        shuffleIn.readByte();
        return ReceivedRecord.valid(flinkAvro.deserialize(shuffleIn), ingest);
    }
}
