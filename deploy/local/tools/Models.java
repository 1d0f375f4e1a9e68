import dev.flinkai.schemas.ModelEvent;
import dev.flinkai.schemas.ModelUpdate;

import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Model updates and model events of the local stack (deploy/local/model.sh):
 * <pre>
 * Models BOOTSTRAP publish TOPIC NAME VERSION URI SHA256|- NOTES|-   writes a ModelUpdate; prints its publish time
 * Models BOOTSTRAP status TOPIC [SINCE_MS]                          the latest event of each subtask (since SINCE_MS)
 * Models BOOTSTRAP await TOPIC KIND VERSION SUBTASKS SINCE_MS TIMEOUT_S  until SUBTASKS subtasks report KIND VERSION
 * </pre>
 * Compiled with KafkaTools.java.
 */
public class Models {

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], command = args[1], topic = args[2];
        switch (command) {
            case "publish" -> publish(bootstrap, topic, args[3], args[4], args[5], dash(args[6]), dash(args[7]));
            case "status" -> status(bootstrap, topic, args.length > 3 ? Long.parseLong(args[3]) : 0);
            case "await" -> await(bootstrap, topic, args[3], args[4], Integer.parseInt(args[5]), Long.parseLong(args[6]),
                    Long.parseLong(args[7]));
            default -> throw new IllegalArgumentException("unknown command " + command);
        }
    }

    private static String dash(String value) {
        return value.equals("-") ? null : value;
    }

    static void publish(String bootstrap, String topic, String name, String version, String uri, String sha256,
                        String notes) throws Exception {
        long now = System.currentTimeMillis();
        ModelUpdate update = ModelUpdate.newBuilder().setModelName(name).setVersion(version).setUri(uri)
                .setSha256(sha256).setNotes(notes).setPublishedAtMillis(now).build();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(bytes, null);
        new SpecificDatumWriter<>(ModelUpdate.class).write(update, encoder);
        encoder.flush();
        try (KafkaProducer<byte[], byte[]> producer = KafkaTools.producer(bootstrap)) {
            producer.send(new ProducerRecord<>(topic, name.getBytes(StandardCharsets.UTF_8), bytes.toByteArray())).get();
        }
        System.out.println(now);
    }

    /** Every committed model event since {@code since}, oldest first. */
    static List<ModelEvent> read(String bootstrap, String topic, long since) throws Exception {
        SpecificDatumReader<ModelEvent> reader = new SpecificDatumReader<>(ModelEvent.class);
        List<ModelEvent> events = new java.util.ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = KafkaTools.committedReader(bootstrap)) {
            List<TopicPartition> parts = KafkaTools.partitions(c, topic);
            c.assign(parts);
            c.seekToBeginning(parts);
            Map<TopicPartition, Long> end = c.endOffsets(parts);
            long deadline = System.currentTimeMillis() + 30_000;
            while (System.currentTimeMillis() < deadline && parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
                    ModelEvent e = reader.read(null, DecoderFactory.get().binaryDecoder(r.value(), null));
                    if (e.getAtMillis() >= since) {
                        events.add(e);
                    }
                }
            }
        }
        events.sort(java.util.Comparator.comparingLong(ModelEvent::getAtMillis));
        return events;
    }

    static String describe(ModelEvent e) {
        return e.getKind() + " " + e.getModelName() + " " + e.getVersion() + " at " + Instant.ofEpochMilli(e.getAtMillis())
                + (e.getReason() == null ? "" : " (" + e.getReason() + ")");
    }

    static void status(String bootstrap, String topic, long since) throws Exception {
        Map<Integer, ModelEvent> latest = new TreeMap<>();
        Map<Integer, ModelEvent> active = new TreeMap<>();
        for (ModelEvent e : read(bootstrap, topic, since)) {
            latest.put(e.getSubtask(), e);
            if (e.getKind().toString().equals("ACTIVE")) {
                active.put(e.getSubtask(), e);
            }
        }
        if (latest.isEmpty()) {
            System.out.println("no model events on " + topic + " (the job writes them when it (re)starts and on each update)");
            return;
        }
        latest.forEach((subtask, e) -> {
            ModelEvent serving = active.get(subtask);
            System.out.println("subtask " + subtask + ": serves " + (serving == null ? "?" : serving.getVersion())
                    + "; last event " + describe(e));
        });
    }

    static void await(String bootstrap, String topic, String kind, String version, int subtasks, long since,
                      long timeoutSeconds) throws Exception {
        long deadline = System.currentTimeMillis() + timeoutSeconds * 1000;
        Map<Integer, ModelEvent> seen = new TreeMap<>();
        while (System.currentTimeMillis() < deadline) {
            for (ModelEvent e : read(bootstrap, topic, since)) {
                if (e.getKind().toString().equals(kind) && e.getVersion().equals(version)) {
                    seen.putIfAbsent(e.getSubtask(), e);
                }
            }
            if (seen.size() >= subtasks) {
                long last = seen.values().stream().mapToLong(ModelEvent::getAtMillis).max().orElseThrow();
                System.out.println(kind + " " + version + " on " + seen.size() + " subtask(s), the last "
                        + (last - since) + " ms after " + since + (kind.equals("REJECTED") ? ": "
                        + seen.values().iterator().next().getReason() : ""));
                return;
            }
            Thread.sleep(1000);
        }
        System.out.println("only " + seen.size() + " of " + subtasks + " subtask(s) reported " + kind + " " + version);
        System.exit(1);
    }
}
