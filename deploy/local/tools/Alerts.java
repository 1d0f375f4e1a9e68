// Reads the ops job's dev.flinkai.schemas.Alert records (Avro binary) from Kafka with isolation.level=read_committed.
// Classpath: the shaded job jar (Alert class, avro, kafka-clients) + slf4j-api + slf4j-nop; compiled with
// KafkaTools.java.
//   Alerts.java <bootstrap> <topic> episode <key regex> <since epoch ms> <timeout-s>
//       waits until an alert whose key matches, seen from <since> on, went FIRING WARNING, FIRING CRITICAL and RESOLVED;
//       prints when, and the other alerts seen from <since> by kind and key; exit 1 if it did not within the timeout
//   Alerts.java <bootstrap> <topic> list <since epoch ms>
//       prints every alert seen from <since> on, one JSON line each
import dev.flinkai.schemas.Alert;
import dev.flinkai.schemas.AlertSeverity;
import dev.flinkai.schemas.AlertState;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;

import java.time.Duration;
import java.time.Instant;
import java.util.*;

public class Alerts {

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], topic = args[1], mode = args[2];
        SpecificDatumReader<Alert> reader = new SpecificDatumReader<>(Alert.class);
        String key = mode.equals("episode") ? args[3] : null;
        long since = Long.parseLong(mode.equals("episode") ? args[4] : args[3]);
        long deadline = System.currentTimeMillis() + (mode.equals("episode") ? Long.parseLong(args[5]) * 1000 : 20_000);
        List<Alert> seen = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = KafkaTools.committedReader(bootstrap)) {
            List<TopicPartition> parts = KafkaTools.partitions(c, topic);
            c.assign(parts);
            c.seekToBeginning(parts);
            Map<TopicPartition, Long> end = c.endOffsets(parts);
            while (System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
                    Alert a = reader.read(null, DecoderFactory.get().binaryDecoder(r.value(), null));
                    if (a.getLastSeenMillis() >= since) seen.add(a);
                }
                boolean caughtUp = parts.stream().allMatch(tp -> c.position(tp) >= end.get(tp));
                if (key == null ? caughtUp : episode(seen, key) != null) break;
            }
        }
        if (key == null) {
            seen.forEach(System.out::println);
            return;
        }
        List<Alert> episode = episode(seen, key);
        Map<String, Integer> others = new TreeMap<>();
        for (Alert a : seen) {
            if (!a.getKey().matches(key) && a.getState() == AlertState.FIRING && a.getSeverity() == AlertSeverity.WARNING) {
                others.merge(a.getKind() + " " + a.getKey(), 1, Integer::sum);
            }
        }
        if (episode == null) {
            System.out.println("no WARNING, CRITICAL, RESOLVED of " + key + " since " + Instant.ofEpochMilli(since) + "; its records: "
                    + seen.stream().filter(a -> a.getKey().matches(key)).map(a -> a.getKind() + " " + a.getState() + " "
                    + a.getSeverity() + " " + Instant.ofEpochMilli(a.getLastSeenMillis())).toList());
            System.exit(1);
        }
        System.out.println(episode.get(0).getKind() + " " + episode.get(0).getKey() + ": WARNING for the window to "
                + Instant.ofEpochMilli(episode.get(0).getLastSeenMillis()) + ", CRITICAL to "
                + Instant.ofEpochMilli(episode.get(1).getLastSeenMillis()) + ", RESOLVED after the window to "
                + Instant.ofEpochMilli(episode.get(2).getLastSeenMillis()) + " (" + episode.get(0).getMessage()
                + "); other alerts raised: " + (others.isEmpty() ? "none" : others.keySet()));
    }

    /** The first alert whose key matches (one id) that went FIRING WARNING, FIRING CRITICAL and RESOLVED, or null. */
    static List<Alert> episode(List<Alert> seen, String key) {
        Map<String, Alert[]> byId = new LinkedHashMap<>();
        for (Alert a : seen) {
            if (!a.getKey().matches(key)) continue;
            Alert[] steps = byId.computeIfAbsent(a.getId(), id -> new Alert[3]);
            if (a.getState() == AlertState.FIRING && a.getSeverity() == AlertSeverity.WARNING && steps[0] == null) steps[0] = a;
            if (a.getState() == AlertState.FIRING && a.getSeverity() == AlertSeverity.CRITICAL && steps[1] == null) steps[1] = a;
            if (a.getState() == AlertState.RESOLVED && steps[2] == null) steps[2] = a;
        }
        for (Alert[] steps : byId.values()) {
            if (steps[0] != null && steps[1] != null && steps[2] != null) return List.of(steps);
        }
        return null;
    }
}
