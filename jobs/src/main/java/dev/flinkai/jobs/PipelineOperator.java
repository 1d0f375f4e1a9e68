package dev.flinkai.jobs;

import org.apache.flink.streaming.api.datastream.DataStreamSink;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;

/**
 * The one place where operator ids and names are set. The uid is what savepoints map state to: never change one of
 * an operator that holds state, or its state is lost on restore.
 */
public enum PipelineOperator {
    EVENTS_SOURCE("kafka-user-events-source", "Kafka source: user events"),
    PROFILES_SOURCE("kafka-user-profiles-source", "Kafka source: user profiles"),
    MODEL_UPDATES_SOURCE("kafka-model-updates-source", "Kafka source: model updates"),
    DEAD_LETTER_ROUTER("dead-letter-router", "Route invalid records to dead letters"),
    MODEL_UPDATE_DEAD_LETTER_ROUTER("model-update-dead-letter-router", "Route invalid model updates to dead letters"),
    USER_CONTEXT("user-context", "Per-user context and features"),
    MICRO_BATCHES("micro-batches", "Group requests into micro-batches"),
    // Holds the batches in flight (see the README on savepoints of versions before micro-batching) and the model
    // version served.
    MODEL_INFERENCE("model-inference-batches", "Async model inference"),
    MODEL_EVENT_SPLITTER("model-event-splitter", "Split model events from predictions"),
    PREDICTIONS_SINK("kafka-predictions-sink", "Kafka sink: predictions"),
    MODEL_EVENTS_SINK("kafka-model-events-sink", "Kafka sink: model events"),
    DEAD_LETTERS_SINK("kafka-dead-letters-sink", "Kafka sink: dead letters"),
    // The source of sequence numbers (its uid kept from when it emitted the events itself: its state is the same).
    GENERATOR_SOURCE("simulated-user-events", "Event sequence numbers"),
    GENERATOR_USERS("simulated-users", "Simulated users"),
    GENERATOR_SINK("kafka-generated-events-sink", "Kafka sink: user events"),
    GENERATOR_PROFILES("simulated-user-profiles", "Simulated user profiles"),
    GENERATOR_PROFILES_SINK("kafka-generated-profiles-sink", "Kafka sink: user profiles");

    public final String uid;
    public final String displayName;

    PipelineOperator(String uid, String displayName) {
        this.uid = uid;
        this.displayName = displayName;
    }

    public <T> SingleOutputStreamOperator<T> on(SingleOutputStreamOperator<T> operator) {
        return operator.uid(uid).name(displayName);
    }

    public <T> DataStreamSink<T> on(DataStreamSink<T> sink) {
        return sink.uid(uid).name(displayName);
    }
}
