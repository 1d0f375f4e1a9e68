package dev.flinkai.bench;

import dev.flinkai.jobs.ContextInferenceJob;
import dev.flinkai.jobs.ContextInferenceSettings;
import dev.flinkai.jobs.kafka.KafkaIo;
import dev.flinkai.operators.ingest.ReceivedRecord;
import dev.flinkai.schemas.UserEvent;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

import java.nio.charset.StandardCharsets;

/**
 * Benchmark baseline "limit_kafka": what the Kafka source and sink alone cost. Reads user events (Avro decode with the
 * job's own {@code UserEventDeserializer}), drops undecodable ones, writes each event back (Avro encode) to
 * {@code --topic.predictions}. No keyBy, no state, no model; same environment (checkpointing, delivery guarantee,
 * buffer timeout, object reuse) as {@link ContextInferenceJob}, so it takes exactly the same arguments.
 */
public final class KafkaPassThroughJob {

    private KafkaPassThroughJob() {}

    public static void main(String[] args) throws Exception {
        ContextInferenceSettings settings = ContextInferenceSettings.fromArgs(args);
        StreamExecutionEnvironment env = ContextInferenceJob.createEnvironment(settings);
        env.fromSource(KafkaIo.userEventSource(settings.bootstrapServers, settings.eventsTopic, settings.groupId),
                        WatermarkStrategy.noWatermarks(), "Kafka source: user events")
                .uid("bench-passthrough-source")
                .filter(ReceivedRecord::isValid).name("Valid events").uid("bench-passthrough-filter")
                .map(record -> record.event).returns(new AvroTypeInfo<>(UserEvent.class))
                .name("Event").uid("bench-passthrough-map")
                .sinkTo(KafkaIo.avroSink(settings.bootstrapServers, settings.predictionsTopic, UserEvent.class,
                        e -> e.getUserId().getBytes(StandardCharsets.UTF_8), settings.delivery,
                        settings.groupId + "-passthrough", settings.transactionTimeout, settings.producerLinger))
                .name("Kafka sink: events").uid("bench-passthrough-sink");
        env.execute("bench-limit-kafka");
    }
}
