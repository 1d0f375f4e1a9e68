// Reads dev.flinkai.schemas.Prediction records (Avro binary) from Kafka with isolation.level=read_committed.
// Classpath: the shaded job jar (Prediction class, avro, kafka-clients) + slf4j-api + slf4j-nop; compiled with
// KafkaTools.java.
//   Predictions.java <bootstrap> <topic> tail <min-count> <timeout-s>
//       waits for <min-count> new predictions (written after start); exit 1 if too few or one lacks a modelVersion
//   Predictions.java <bootstrap> <topic> follow
//       prints every new prediction as JSON until interrupted
//   Predictions.java <bootstrap> <topic> dups <timeout-s> [events-topic]
//       reads the topic from the beginning to its current end (and the events topic, if given); an event (eventId +
//       userId + eventTimeMillis) with more predictions than input records is a duplicate; exit 1 on any duplicate
//       or missing modelVersion
//   Predictions.java <bootstrap> <topic> events <since epoch ms> <timeout-s> <file>
//       the predictions of the events listed in <file> (lines "eventId<TAB>userId", as written by another producer
//       from <since> on): waits until each has one, then reads on to the topic's end; exit 1 unless every event has
//       exactly one prediction, for its user, with a modelVersion
import dev.flinkai.operators.codec.AvroRecordCodec;
import dev.flinkai.schemas.Prediction;
import dev.flinkai.schemas.UserEvent;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;

import java.time.Duration;
import java.util.*;
import java.util.stream.Collectors;

public class Predictions {

    interface RecordHandler { void handle(ConsumerRecord<byte[], byte[]> r) throws Exception; }

    /** Reads the assigned partitions from the beginning up to their end offsets at call time. */
    static boolean readAll(KafkaConsumer<byte[], byte[]> c, List<TopicPartition> parts, long deadline, RecordHandler h) throws Exception {
        c.seekToBeginning(parts);
        Map<TopicPartition, Long> end = c.endOffsets(parts);
        while (System.currentTimeMillis() < deadline && parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
            for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
                h.handle(r);
            }
        }
        return parts.stream().allMatch(tp -> c.position(tp) >= end.get(tp));
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], topic = args[1], mode = args[2];
        // predictions of every release: the topic holds earlier layouts after an upgrade that added a field
        AvroRecordCodec<Prediction> reader = new AvroRecordCodec<>(Prediction.class);
        try (KafkaConsumer<byte[], byte[]> c = KafkaTools.committedReader(bootstrap)) {
            List<TopicPartition> parts = KafkaTools.partitions(c, topic);
            c.assign(parts);
            if (mode.equals("follow")) {
                c.seekToEnd(parts);
                while (true) {
                    for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
                        System.out.println(reader.decode(r.value()));
                    }
                }
            } else if (mode.equals("tail")) {
                int want = Integer.parseInt(args[3]);
                long deadline = System.currentTimeMillis() + Long.parseLong(args[4]) * 1000;
                c.seekToEnd(parts);
                parts.forEach(c::position);
                int n = 0, noVersion = 0;
                Map<String, Integer> versions = new TreeMap<>();
                Map<String, Integer> servedBy = new TreeMap<>();
                Prediction last = null;
                while (n < want && System.currentTimeMillis() < deadline) {
                    for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
                        Prediction pr = reader.decode(r.value());
                        n++;
                        last = pr;
                        String v = pr.getModelVersion() == null ? "" : pr.getModelVersion().toString();
                        if (v.isEmpty()) noVersion++;
                        versions.merge(v, 1, Integer::sum);
                        servedBy.merge(String.valueOf(pr.getServedBy()), 1, Integer::sum);
                    }
                }
                System.out.println("new predictions " + n + ", by modelVersion " + versions + ", servedBy " + servedBy
                        + ", without modelVersion " + noVersion);
                if (last != null) System.out.println("last: " + last);
                System.exit(n >= want && noVersion == 0 ? 0 : 1);
            } else if (mode.equals("served-after")) {
                // served-after <servedBy> <since epoch ms> <timeout s>: the first new prediction served by <servedBy>
                // and made at or after <since>; prints how long after <since> it was made.
                String who = args[3];
                long since = Long.parseLong(args[4]);
                long deadline = System.currentTimeMillis() + Long.parseLong(args[5]) * 1000;
                c.seekToEnd(parts);
                parts.forEach(c::position);
                while (System.currentTimeMillis() < deadline) {
                    for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
                        Prediction pr = reader.decode(r.value());
                        if (who.equals(String.valueOf(pr.getServedBy())) && pr.getPredictTimeMillis() >= since) {
                            System.out.println("first prediction served by " + who + " made "
                                    + (pr.getPredictTimeMillis() - since) + " ms after " + since);
                            System.exit(0);
                        }
                    }
                }
                System.out.println("no prediction served by " + who + " made after " + since);
                System.exit(1);
            } else if (mode.equals("version-after")) {
                // version-after <version> <since epoch ms> <window s> <timeout s>: predictions made from <since> on;
                // when the first of <version> was made, and that every one made <window> s after <since> or later
                // is of <version> (at least 100 of them).
                String version = args[3];
                long since = Long.parseLong(args[4]);
                long windowEnd = since + Long.parseLong(args[5]) * 1000;
                long deadline = System.currentTimeMillis() + Long.parseLong(args[6]) * 1000;
                Map<TopicPartition, Long> start = new HashMap<>();
                c.offsetsForTimes(parts.stream().collect(Collectors.toMap(tp -> tp, tp -> since - 5_000))).forEach(
                        (tp, o) -> start.put(tp, o == null ? c.endOffsets(List.of(tp)).get(tp) : o.offset()));
                start.forEach(c::seek);
                long firstOfVersion = Long.MAX_VALUE;
                int afterWindow = 0;
                Map<String, Integer> otherAfterWindow = new TreeMap<>();
                while (System.currentTimeMillis() < deadline && afterWindow < 100) {
                    for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
                        Prediction pr = reader.decode(r.value());
                        long made = pr.getPredictTimeMillis();
                        String v = String.valueOf(pr.getModelVersion());
                        if (made >= since && v.equals(version)) {
                            firstOfVersion = Math.min(firstOfVersion, made);
                        }
                        if (made >= windowEnd) {
                            afterWindow++;
                            if (!v.equals(version)) {
                                otherAfterWindow.merge(v, 1, Integer::sum);
                            }
                        }
                    }
                }
                boolean ok = firstOfVersion != Long.MAX_VALUE && afterWindow >= 100 && otherAfterWindow.isEmpty();
                System.out.println((firstOfVersion == Long.MAX_VALUE ? "no prediction of " + version
                        : "first prediction of " + version + " made " + (firstOfVersion - since) + " ms after " + since)
                        + "; of " + afterWindow + " made " + (windowEnd - since) / 1000 + " s after it or later, "
                        + (otherAfterWindow.isEmpty() ? "all of " + version : "of other versions: " + otherAfterWindow));
                System.exit(ok ? 0 : 1);
            } else if (mode.equals("dups")) {
                long deadline = System.currentTimeMillis() + Long.parseLong(args[3]) * 1000;
                String eventsTopic = args.length > 4 ? args[4] : null;
                // An input event is identified by eventId + userId + eventTimeMillis: a generator that restarts
                // re-uses eventIds (ev-0, ev-1, ...) but not their timestamps.
                Map<String, Integer> predicted = new HashMap<>();
                long[] n = new long[3]; // predictions, without modelVersion, fallback
                Map<String, Long> versions = new TreeMap<>();
                Map<String, Long> servedBy = new TreeMap<>();
                boolean complete = readAll(c, parts, deadline, r -> {
                    Prediction pr = reader.decode(r.value());
                    n[0]++;
                    predicted.merge(pr.getEventId() + "|" + pr.getUserId() + "|" + pr.getEventTimeMillis(), 1, Integer::sum);
                    String v = pr.getModelVersion() == null ? "" : pr.getModelVersion().toString();
                    if (v.isEmpty()) n[1]++;
                    if (pr.getFallback()) n[2]++;
                    versions.merge(v, 1L, Long::sum);
                    servedBy.merge(String.valueOf(pr.getServedBy()), 1L, Long::sum);
                });
                Map<String, Integer> events = new HashMap<>();
                if (eventsTopic != null) {
                    SpecificDatumReader<UserEvent> eventReader = new SpecificDatumReader<>(UserEvent.class);
                    List<TopicPartition> eventParts = KafkaTools.partitions(c, eventsTopic);
                    c.assign(eventParts);
                    complete &= readAll(c, eventParts, deadline, r -> {
                        try {
                            UserEvent e = eventReader.read(null, DecoderFactory.get().binaryDecoder(r.value(), null));
                            events.merge(e.getEventId() + "|" + e.getUserId() + "|" + e.getEventTimeMillis(), 1, Integer::sum);
                        } catch (Exception undecodable) {
                            // dead letters: no prediction expected
                        }
                    });
                }
                List<String> dups = predicted.entrySet().stream()
                        .filter(e -> e.getValue() > Math.max(1, events.getOrDefault(e.getKey(), 1)))
                        .map(Map.Entry::getKey).sorted().toList();
                long sameIdTwice = events.values().stream().filter(v -> v > 1).count();
                // Events older than the newest predicted one by 30 s or more should have their prediction committed
                // (checkpoint interval 10 s): a count of those without one (invalid events go to dead letters).
                long newestPredicted = predicted.keySet().stream().mapToLong(k -> Long.parseLong(k.substring(k.lastIndexOf('|') + 1))).max().orElse(0);
                long unanswered = events.keySet().stream().filter(k -> !predicted.containsKey(k))
                        .filter(k -> Long.parseLong(k.substring(k.lastIndexOf('|') + 1)) < newestPredicted - 30_000).count();
                System.out.println("predictions " + n[0] + ", distinct events predicted " + predicted.size()
                        + ", events predicted more than once " + dups.size()
                        + (eventsTopic == null ? "" : " (input events read " + events.size() + ", input duplicates " + sameIdTwice
                                + ", older than 30 s without prediction " + unanswered + ")")
                        + ", without modelVersion " + n[1] + ", fallback " + n[2] + ", by modelVersion " + versions
                        + ", servedBy " + servedBy
                        + (complete ? "" : ", INCOMPLETE read (timeout)"));
                if (!dups.isEmpty()) System.out.println("first duplicates: " + dups.stream().limit(10).collect(Collectors.joining(", ")));
                System.exit(dups.isEmpty() && n[1] == 0 && complete && n[0] > 0 ? 0 : 1);
            } else if (mode.equals("events")) {
                long since = Long.parseLong(args[3]);
                long deadline = System.currentTimeMillis() + Long.parseLong(args[4]) * 1000;
                Map<String, String> userOf = new LinkedHashMap<>();
                for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of(args[5]))) {
                    String[] f = line.split("\t");
                    if (f.length == 2) userOf.put(f[0], f[1]);
                }
                Map<TopicPartition, Long> start = new HashMap<>();
                c.offsetsForTimes(parts.stream().collect(Collectors.toMap(tp -> tp, tp -> since - 5_000))).forEach(
                        (tp, o) -> start.put(tp, o == null ? c.endOffsets(List.of(tp)).get(tp) : o.offset()));
                start.forEach(c::seek);
                Map<String, Integer> predicted = new HashMap<>();
                List<String> problems = new ArrayList<>();
                Map<String, Integer> versions = new TreeMap<>();
                RecordHandler h = r -> {
                    Prediction pr = reader.decode(r.value());
                    String id = pr.getEventId().toString();
                    if (!userOf.containsKey(id)) return;
                    predicted.merge(id, 1, Integer::sum);
                    versions.merge(String.valueOf(pr.getModelVersion()), 1, Integer::sum);
                    if (!userOf.get(id).equals(pr.getUserId().toString())) problems.add(id + " predicted for user " + pr.getUserId());
                    if (pr.getModelVersion() == null || pr.getModelVersion().length() == 0) problems.add(id + " without modelVersion");
                };
                while (predicted.size() < userOf.size() && System.currentTimeMillis() < deadline) {
                    for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) h.handle(r);
                }
                // a second prediction of an event would have been committed with or after its first: read on to the end
                Map<TopicPartition, Long> end = c.endOffsets(parts);
                while (System.currentTimeMillis() < deadline + 30_000 && parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
                    for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) h.handle(r);
                }
                List<String> missing = userOf.keySet().stream().filter(id -> !predicted.containsKey(id)).toList();
                List<String> twice = predicted.entrySet().stream().filter(e -> e.getValue() > 1).map(Map.Entry::getKey).sorted().toList();
                System.out.println(userOf.size() + " events, " + (userOf.size() - missing.size()) + " with a prediction, missing "
                        + missing.size() + ", more than one " + twice.size() + ", by modelVersion " + versions
                        + (missing.isEmpty() ? "" : "; first missing: " + missing.stream().limit(5).toList())
                        + (twice.isEmpty() ? "" : "; first twice: " + twice.stream().limit(5).toList())
                        + (problems.isEmpty() ? "" : "; " + problems.stream().limit(5).toList()));
                System.exit(!userOf.isEmpty() && missing.isEmpty() && twice.isEmpty() && problems.isEmpty() ? 0 : 1);
            } else {
                throw new IllegalArgumentException("unknown mode " + mode);
            }
        }
    }
}
