package dev.flinkai.operators.inference;

import dev.flinkai.operators.features.ScoringRequest;
import dev.flinkai.schemas.ModelUpdate;

import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.types.StringValue;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Batches are handed to the async operator without a copy, and the batches a checkpoint stores come back whole,
 * model updates and batches of the previous format included.
 */
class ScoringBatchSerializerTest {

    @Test
    void copyIsTheBatchItself() {
        List<ScoringRequest> batch = List.of(new ScoringRequest("e", "u", 0, 1L, 2L, new float[] {1f}));
        assertThat(ScoringBatchSerializer.INSTANCE.isImmutableType()).isTrue();
        assertThat(ScoringBatchSerializer.INSTANCE.copy(batch)).isSameAs(batch);
        assertThat(ScoringBatchSerializer.TYPE.createSerializer(null)).isSameAs(ScoringBatchSerializer.INSTANCE);
    }

    @Test
    void batchesSurviveTheRoundTrip() throws Exception {
        Random random = new Random(3);
        List<ScoringRequest> batch = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            float[] features = i % 10 == 3 ? null : new float[random.nextInt(40)];
            if (features != null) {
                for (int f = 0; f < features.length; f++) {
                    features[f] = (float) random.nextGaussian();
                }
            }
            batch.add(new ScoringRequest("ev-" + i + "-ü", "user-" + random.nextInt(), random.nextInt(),
                    random.nextLong(), random.nextLong(), features, random.nextInt(1_000_000)));
        }
        DataOutputSerializer out = new DataOutputSerializer(256);
        ScoringBatchSerializer.INSTANCE.serialize(batch, out);
        ScoringBatchSerializer.INSTANCE.serialize(List.of(), out);
        DataInputDeserializer in = new DataInputDeserializer(out.getCopyOfBuffer());
        List<ScoringRequest> read = ScoringBatchSerializer.INSTANCE.deserialize(in);
        assertThat(ScoringBatchSerializer.INSTANCE.deserialize(in)).isEmpty();
        assertThat(in.available()).isZero();
        assertThat(read).usingRecursiveFieldByFieldElementComparator().isEqualTo(batch);
    }

    /** A model update waiting in the async operator's state comes back whole. */
    @Test
    void aControlRequestSurvivesTheRoundTrip() throws Exception {
        ModelUpdate update = ModelUpdate.newBuilder().setModelName("next-event-mlp").setVersion("2.0.0")
                .setUri("s3://models/next-event/2.0.0/model.pt").setSha256("ab".repeat(32)).setNotes("retrained")
                .setPublishedAtMillis(42L).build();
        DataOutputSerializer out = new DataOutputSerializer(256);
        ScoringBatchSerializer.INSTANCE.serialize(List.of(ScoringRequest.control(update)), out);
        List<ScoringRequest> read = ScoringBatchSerializer.INSTANCE.deserialize(new DataInputDeserializer(out.getCopyOfBuffer()));
        assertThat(read).singleElement().satisfies(r -> {
            assertThat(r.isControl()).isTrue();
            assertThat(r.modelUpdate).isEqualTo(update);
        });
    }

    /** Batches of events the previous release stored in a checkpoint (format 1, no kind byte) still read. */
    @Test
    void aBatchOfThePreviousFormatReads() throws Exception {
        DataOutputSerializer out = new DataOutputSerializer(256);
        out.writeByte(1);
        out.writeInt(1);
        StringValue.writeString("ev-1", out);
        StringValue.writeString("user-1", out);
        out.writeInt(2);
        out.writeLong(10L);
        out.writeLong(20L);
        out.writeInt(2);
        out.writeFloat(0.5f);
        out.writeFloat(1.5f);
        List<ScoringRequest> read = ScoringBatchSerializer.INSTANCE.deserialize(new DataInputDeserializer(out.getCopyOfBuffer()));
        assertThat(read).usingRecursiveFieldByFieldElementComparator()
                .containsExactly(new ScoringRequest("ev-1", "user-1", 2, 10L, 20L, new float[] {0.5f, 1.5f}));
    }

    /** Batches of format 2 (before the context count) read with the count unknown (0). */
    @Test
    void aBatchOfFormatTwoReadsWithoutContextCount() throws Exception {
        DataOutputSerializer out = new DataOutputSerializer(256);
        out.writeByte(2);
        out.writeInt(1);
        out.writeByte(0);
        StringValue.writeString("ev-1", out);
        StringValue.writeString("user-1", out);
        out.writeInt(2);
        out.writeLong(10L);
        out.writeLong(20L);
        out.writeInt(1);
        out.writeFloat(0.5f);
        List<ScoringRequest> read = ScoringBatchSerializer.INSTANCE.deserialize(new DataInputDeserializer(out.getCopyOfBuffer()));
        assertThat(read).usingRecursiveFieldByFieldElementComparator()
                .containsExactly(new ScoringRequest("ev-1", "user-1", 2, 10L, 20L, new float[] {0.5f}, 0L));
    }
}
