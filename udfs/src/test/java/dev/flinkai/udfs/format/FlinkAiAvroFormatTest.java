package dev.flinkai.udfs.format;

import dev.flinkai.operators.codec.AvroRecordCodec;
import dev.flinkai.operators.codec.UserEventDecoder;
import dev.flinkai.operators.simulation.UserBehaviourSimulator;
import dev.flinkai.schemas.EventType;
import dev.flinkai.schemas.UserEvent;

import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.SimpleCounter;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.runtime.typeutils.InternalTypeInfo;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.util.SimpleUserCodeClassLoader;
import org.apache.flink.util.UserCodeClassLoader;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The format against the bytes of the project's own codecs: what is on the topics, and what its consumers read. */
class FlinkAiAvroFormatTest {

    static final RowType ALL_USER_EVENT_COLUMNS = (RowType) DataTypes.ROW(
            DataTypes.FIELD("eventId", DataTypes.STRING()), DataTypes.FIELD("userId", DataTypes.STRING()),
            DataTypes.FIELD("sessionId", DataTypes.STRING()), DataTypes.FIELD("eventType", DataTypes.STRING()),
            DataTypes.FIELD("eventTimeMillis", DataTypes.BIGINT()), DataTypes.FIELD("priority", DataTypes.INT()),
            DataTypes.FIELD("feature", DataTypes.STRING()), DataTypes.FIELD("latencyMillis", DataTypes.INT()),
            DataTypes.FIELD("inputTokens", DataTypes.INT()), DataTypes.FIELD("outputTokens", DataTypes.INT()),
            DataTypes.FIELD("success", DataTypes.BOOLEAN()), DataTypes.FIELD("rating", DataTypes.INT()))
            .getLogicalType();

    private final Map<String, SimpleCounter> counters = new HashMap<>();

    static List<UserEvent> simulated(int count) {
        UserBehaviourSimulator simulator = new UserBehaviourSimulator(7, 50, 0.8, 0, 1);
        List<UserEvent> events = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            events.add(simulator.next("ev-" + i, 1_700_000_000_000L + i * 1000L));
        }
        events.get(0).setFeature(null); // the optional field absent too
        return events;
    }

    @Test
    void readsTheProjectsBytesIntoColumnsByNameInAnyOrder() throws Exception {
        RowType columns = (RowType) DataTypes.ROW(DataTypes.FIELD("rating", DataTypes.INT()),
                DataTypes.FIELD("eventType", DataTypes.STRING()), DataTypes.FIELD("userId", DataTypes.STRING()),
                DataTypes.FIELD("feature", DataTypes.STRING()), DataTypes.FIELD("success", DataTypes.BOOLEAN()),
                DataTypes.FIELD("eventTimeMillis", DataTypes.TIMESTAMP(3))).getLogicalType();
        RecordDeserializer deserializer = open(new RecordDeserializer("UserEvent", columns, InternalTypeInfo.of(columns),
                false));
        AvroRecordCodec<UserEvent> codec = new AvroRecordCodec<>(UserEvent.class);
        for (UserEvent e : simulated(200)) {
            RowData row = deserializer.deserialize(codec.encode(e));
            assertThat(row.isNullAt(0) ? null : row.getInt(0)).isEqualTo(e.getRating());
            assertThat(row.getString(1).toString()).isEqualTo(e.getEventType().name());
            assertThat(row.getString(2).toString()).isEqualTo(e.getUserId());
            assertThat(row.isNullAt(3) ? null : row.getString(3).toString()).isEqualTo(e.getFeature());
            assertThat(row.isNullAt(4) ? null : row.getBoolean(4)).isEqualTo(e.getSuccess());
            assertThat(row.getTimestamp(5, 3).getMillisecond()).isEqualTo(e.getEventTimeMillis());
        }
    }

    /** Read and written back, a record is the same bytes, and the job's hand-written decoder reads it. */
    @Test
    void writesWhatTheProjectsDecoderReads() throws Exception {
        RecordDeserializer deserializer = open(new RecordDeserializer("UserEvent", ALL_USER_EVENT_COLUMNS,
                InternalTypeInfo.of(ALL_USER_EVENT_COLUMNS), false));
        RecordSerializer serializer = new RecordSerializer("UserEvent", ALL_USER_EVENT_COLUMNS);
        serializer.open(initContext());
        AvroRecordCodec<UserEvent> codec = new AvroRecordCodec<>(UserEvent.class);
        UserEventDecoder decoder = new UserEventDecoder();
        for (UserEvent e : simulated(200)) {
            byte[] bytes = codec.encode(e);
            byte[] written = serializer.serialize(deserializer.deserialize(bytes));
            assertThat(written).isEqualTo(bytes);
            assertThat(decoder.decode(written)).isEqualTo(e);
        }
    }

    @Test
    void anEnumColumnMustHoldASymbol() throws Exception {
        RowType columns = (RowType) DataTypes.ROW(DataTypes.FIELD("eventId", DataTypes.STRING()),
                DataTypes.FIELD("userId", DataTypes.STRING()), DataTypes.FIELD("sessionId", DataTypes.STRING()),
                DataTypes.FIELD("eventType", DataTypes.STRING()), DataTypes.FIELD("eventTimeMillis", DataTypes.BIGINT()))
                .getLogicalType();
        RecordSerializer serializer = new RecordSerializer("UserEvent", columns);
        serializer.open(initContext());
        RowData row = GenericRowData.of(sd("e"), sd("u"), sd("s"), sd("CLICK"), 1L);
        assertThatThrownBy(() -> serializer.serialize(row)).hasMessageContaining("EventType")
                .hasMessageContaining("CLICK");
        RowData valid = GenericRowData.of(sd("e"), sd("u"), sd("s"), sd("FEEDBACK"), 1L);
        assertThat(new UserEventDecoder().decode(serializer.serialize(valid)).getEventType())
                .isEqualTo(EventType.FEEDBACK);
    }

    @Test
    void aColumnThatIsNoFieldFailsNamingIt() {
        RowType columns = (RowType) DataTypes.ROW(DataTypes.FIELD("userId", DataTypes.STRING()),
                DataTypes.FIELD("userName", DataTypes.STRING())).getLogicalType();
        assertThatThrownBy(() -> RecordMapping.check(ProjectRecords.schema("UserEvent"), columns))
                .isInstanceOf(ValidationException.class).hasMessageContaining("'userName'")
                .hasMessageContaining("UserEvent");
        RowType wrongType = (RowType) DataTypes.ROW(DataTypes.FIELD("latencyMillis", DataTypes.STRING()))
                .getLogicalType();
        assertThatThrownBy(() -> RecordMapping.check(ProjectRecords.schema("UserEvent"), wrongType))
                .isInstanceOf(ValidationException.class).hasMessageContaining("'latencyMillis'")
                .hasMessageContaining("INT");
        RowType missing = (RowType) DataTypes.ROW(DataTypes.FIELD("feature", DataTypes.STRING())).getLogicalType();
        assertThatThrownBy(() -> RecordMapping.checkWritable(ProjectRecords.schema("KpiKey"), missing))
                .isInstanceOf(ValidationException.class).hasMessageContaining("windowStartMillis");
        assertThatThrownBy(() -> ProjectRecords.schema("Event")).isInstanceOf(ValidationException.class)
                .hasMessageContaining("UserEvent");
    }

    @Test
    void aMalformedRecordFailsByDefaultAndIsSkippedAndCountedWhenAsked() throws Exception {
        byte[] good = new AvroRecordCodec<>(UserEvent.class).encode(simulated(1).get(0));
        byte[] truncated = Arrays.copyOf(good, 5);
        RecordDeserializer failing = open(new RecordDeserializer("UserEvent", ALL_USER_EVENT_COLUMNS,
                InternalTypeInfo.of(ALL_USER_EVENT_COLUMNS), false));
        assertThatThrownBy(() -> failing.deserialize(truncated)).isInstanceOf(IOException.class)
                .hasMessageContaining("Not a UserEvent").hasMessageContaining("ignore-parse-errors");

        RecordDeserializer skipping = open(new RecordDeserializer("UserEvent", ALL_USER_EVENT_COLUMNS,
                InternalTypeInfo.of(ALL_USER_EVENT_COLUMNS), true));
        assertThat(skipping.deserialize(truncated)).isNull();
        assertThat(skipping.deserialize(good)).isNotNull();
        assertThat(counters.get(RecordDeserializer.PARSE_ERRORS).getCount()).isEqualTo(1);
    }

    private static StringData sd(String s) {
        return StringData.fromString(s);
    }

    private RecordDeserializer open(RecordDeserializer d) {
        d.open(initContext());
        return d;
    }

    private InitContext initContext() {
        return new InitContext();
    }

    /** What a source gives its deserializer, with a metric group that keeps the counters for the test. */
    private final class InitContext implements DeserializationSchema.InitializationContext,
            SerializationSchema.InitializationContext {
        @Override
        public MetricGroup getMetricGroup() {
            return new UnregisteredMetricsGroup() {
                @Override
                public Counter counter(String name) {
                    return counters.computeIfAbsent(name, n -> new SimpleCounter());
                }
            };
        }

        @Override
        public UserCodeClassLoader getUserCodeClassLoader() {
            return SimpleUserCodeClassLoader.create(getClass().getClassLoader());
        }
    }
}
