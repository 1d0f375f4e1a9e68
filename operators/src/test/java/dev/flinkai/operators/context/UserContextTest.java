package dev.flinkai.operators.context;

import dev.flinkai.schemas.EventType;
import dev.flinkai.schemas.Tier;
import dev.flinkai.schemas.UserEvent;
import dev.flinkai.schemas.UserProfile;

import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.junit.jupiter.api.Test;

import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class UserContextTest {

    /**
     * {@link #threeEvents()} folded into a context and written by the format-1 serializer of commit b7b4836 (event
     * type in 2 bits, no type count), as savepoints of that release hold them.
     */
    static final String FORMAT_1_HEX =
            "010300bc050bb00922ac0203010001019811e601000102010000018bcfe56800d08c01c03e00000e1f0100800100";

    static List<UserEvent> threeEvents() {
        return List.of(
                UserEvent.newBuilder().setEventId("e1").setUserId("u1").setSessionId("s1").setEventType(EventType.QUERY)
                        .setEventTimeMillis(1_700_000_000_000L).setLatencyMillis(700).setFeature("chat")
                        .setInputTokens(30).setOutputTokens(200).build(),
                UserEvent.newBuilder().setEventId("e2").setUserId("u1").setSessionId("s1")
                        .setEventType(EventType.TASK_OUTCOME).setEventTimeMillis(1_700_000_005_000L)
                        .setLatencyMillis(1200).setSuccess(false).build(),
                UserEvent.newBuilder().setEventId("e3").setUserId("u1").setSessionId("s2")
                        .setEventType(EventType.FEEDBACK).setEventTimeMillis(1_700_000_009_000L).setLatencyMillis(300)
                        .setFeature("code").setRating(2).build());
    }

    @Test
    void aContextOfThePreviousFormatReadsAsTheSameContext() throws Exception {
        UserContext replayed = new UserContext();
        threeEvents().forEach(replayed::add);
        UserContext read = UserContextSerializer.INSTANCE.deserialize(
                new DataInputDeserializer(HexFormat.of().parseHex(FORMAT_1_HEX)));
        assertThat(read).isEqualTo(replayed);
        assertThat(read.recentOutcome(1)).isEqualTo(UserContext.OUTCOME_FAILURE);
        assertThat(read.recentRating(0)).isEqualTo(2);
        assertThat(read.recentType(0)).isEqualTo(EventType.FEEDBACK.ordinal());

        DataOutputSerializer out = new DataOutputSerializer(64);
        UserContextSerializer.INSTANCE.serialize(read, out);
        assertThat(out.getCopyOfBuffer()[0]).as("written in the current format").isEqualTo((byte) 3);
        assertThat(out.length()).as("two bytes more: the number of event types, no profile")
                .isEqualTo(FORMAT_1_HEX.length() / 2 + 2);
    }

    /** A profile's fields survive serialization; a context without one stays without one, a later profile replaces. */
    @Test
    void theProfileIsPartOfTheContextAndALaterOneReplacesIt() throws Exception {
        UserContext context = new UserContext();
        threeEvents().forEach(context::add);
        assertThat(context.hasProfile()).isFalse();
        context.setProfile(UserProfile.newBuilder().setUserId("u1").setTier(Tier.PRO).setLocale("de-DE")
                .setSignupTimeMillis(1_600_000_000_000L).setPreferences(Map.of(UserContext.PREFERRED_FEATURE, "code"))
                .build());
        UserContext read = roundTrip(context);
        assertThat(read).isEqualTo(context);
        assertThat(read.tier()).isEqualTo(Tier.PRO);
        assertThat(read.signupMillis()).isEqualTo(1_600_000_000_000L);
        assertThat(read.prefers("code")).isTrue();
        assertThat(read.prefers("chat")).isFalse();

        read.setProfile(UserProfile.newBuilder().setUserId("u1").setTier(Tier.FREE).setLocale("de-DE")
                .setSignupTimeMillis(1_600_000_000_000L).build());
        assertThat(roundTrip(read).tier()).isEqualTo(Tier.FREE);
        assertThat(roundTrip(read).prefers("code")).as("no preference in the later profile").isFalse();
    }

    private static UserContext roundTrip(UserContext context) throws Exception {
        DataOutputSerializer out = new DataOutputSerializer(64);
        UserContextSerializer.INSTANCE.serialize(context, out);
        return UserContextSerializer.INSTANCE.deserialize(new DataInputDeserializer(out.getCopyOfBuffer()));
    }

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
