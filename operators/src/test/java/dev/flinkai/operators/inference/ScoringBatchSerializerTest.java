package dev.flinkai.operators.inference;

import dev.flinkai.operators.features.ScoringRequest;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Batches are handed to the async operator without a copy, and the batches a checkpoint stores come back whole.
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
                    random.nextLong(), random.nextLong(), features));
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
}
