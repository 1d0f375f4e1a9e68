package dev.flinkai.operators.context;

import dev.flinkai.schemas.EventType;
import dev.flinkai.schemas.UserEvent;

import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class UserContextTest {

    @Test
    void recentWindowIsBoundedAndKeepsTheLatestEventsInOrder() {
        UserContext context = new UserContext();
        List<UserEvent> events = TestEvents.simulated(3, 1, 100);
        events.forEach(context::add);

        assertThat(context.recentSize()).isEqualTo(UserContext.RECENT_CAPACITY);
        assertThat(context.totalEvents()).isEqualTo(100);
        for (int age = 0; age < UserContext.RECENT_CAPACITY; age++) {
            UserEvent expected = events.get(events.size() - 1 - age);
            assertThat(context.recentType(age)).isEqualTo(expected.getEventType().ordinal());
            assertThat(context.recentLatencyMillis(age)).isEqualTo(expected.getLatencyMillis());
        }
        long byType = 0;
        for (EventType type : EventType.values()) {
            byType += context.countOfType(type.ordinal());
        }
        assertThat(byType).isEqualTo(100);
    }

    @Test
    void serializerRoundTripsAndStaysUnderOneKilobytePerUser() throws Exception {
        for (int events : new int[] {1, 5, 16, 1_000, 100_000}) {
            UserContext context = new UserContext();
            TestEvents.simulated(11, 1, events).forEach(context::add);

            DataOutputSerializer out = new DataOutputSerializer(256);
            UserContextSerializer.INSTANCE.serialize(context, out);
            UserContext restored = UserContextSerializer.INSTANCE.deserialize(new DataInputDeserializer(out.getCopyOfBuffer()));

            assertThat(restored).isEqualTo(context);
            // The restored ring buffer must keep working exactly like the original.
            UserEvent next = TestEvents.simulated(12, 1, 1).get(0);
            context.add(next);
            restored.add(next);
            assertThat(restored).isEqualTo(context);

            System.out.printf("UserContext after %,d events: %d bytes serialized%n", events, out.length());
            assertThat(out.length()).isLessThan(1024);
        }
    }
}
