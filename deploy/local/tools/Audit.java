// The exactly-once audit of deploy/local/chaos.sh: an independent read_committed reader of the events, predictions and
// dead-letter topics. Classpath: the shaded job jar (the Avro records, avro, kafka-clients) + slf4j-api + slf4j-nop;
// compiled with KafkaTools.java.
//   Audit.java <bootstrap> <events> <predictions> <dead-letters> mark <file>
//       writes the three topics' committed end offsets to <file>: the audit covers what is written after them
//   Audit.java <bootstrap> <events> <predictions> <dead-letters> bad-input <count>
//       writes <count> records no UserEvent reader can decode (random bytes, cut-off events) to the events topic
//   Audit.java <bootstrap> <events> <predictions> <dead-letters> check <file> <timeout-s>
//       every record written to the events topic after the mark must have exactly one outcome: a prediction for its
//       event id, of its user, or a dead letter for its partition and offset; waits up to <timeout-s> for them.
//       Also checks each user's contextEvents in those predictions counts on by one (a repeat is an event counted
//       twice, a gap one lost; 1 again is an expired context). Event ids the producer wrote twice are reported apart
//       (each of those records is owed its own prediction). Exit 1 on anything missing, duplicated or out of sequence.
import dev.flinkai.schemas.DeadLetter;
import dev.flinkai.schemas.Prediction;
import dev.flinkai.schemas.UserEvent;
import org.apache.avro.io.BinaryDecoder;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.*;

public class Audit {

    /** Where one event record sits, and what came of it. */
    static final class Input {
        final String userId;
        final int partition;
        final long offset;
        int predictions;
        Long contextEvents;

        Input(String userId, int partition, long offset) {
            this.userId = userId;
            this.partition = partition;
            this.offset = offset;
        }
    }

    final String events, predictions, deadLetters;
    final KafkaConsumer<byte[], byte[]> consumer;

    Audit(String bootstrap, String events, String predictions, String deadLetters) {
        this.events = events;
        this.predictions = predictions;
        this.deadLetters = deadLetters;
        consumer = KafkaTools.committedReader(bootstrap);
    }

    List<TopicPartition> partitions(String topic) {
        return KafkaTools.partitions(consumer, topic, Duration.ofSeconds(30));
    }

    Map<TopicPartition, Long> ends() {
        List<TopicPartition> all = new ArrayList<>();
        for (String t : List.of(events, predictions, deadLetters)) all.addAll(partitions(t));
        return new TreeMap<>(Comparator.comparing(TopicPartition::toString)) {{ putAll(consumer.endOffsets(all)); }};
    }

    static Map<TopicPartition, Long> readMark(Path file) throws Exception {
        Map<TopicPartition, Long> mark = new HashMap<>();
        for (String line : Files.readAllLines(file)) {
            String[] f = line.trim().split(" ");
            if (f.length == 3) mark.put(new TopicPartition(f[0], Integer.parseInt(f[1])), Long.parseLong(f[2]));
        }
        return mark;
    }

    interface Handler { void handle(ConsumerRecord<byte[], byte[]> r) throws Exception; }

    /** Reads the topic's partitions from the mark up to the given ends (or the deadline); true if it got there. */
    boolean read(String topic, Map<TopicPartition, Long> from, Map<TopicPartition, Long> to, long deadline, Handler h)
            throws Exception {
        List<TopicPartition> parts = partitions(topic);
        consumer.assign(parts);
        for (TopicPartition tp : parts) consumer.seek(tp, from.getOrDefault(tp, 0L));
        while (System.currentTimeMillis() < deadline && parts.stream().anyMatch(tp -> consumer.position(tp) < to.get(tp))) {
            for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                if (r.offset() < to.get(new TopicPartition(r.topic(), r.partition()))) h.handle(r);
            }
        }
        return parts.stream().allMatch(tp -> consumer.position(tp) >= to.get(tp));
    }

    static <T> T decode(SpecificDatumReader<T> reader, byte[] value) {
        if (value == null) return null;
        try {
            BinaryDecoder d = DecoderFactory.get().binaryDecoder(value, null);
            T t = reader.read(null, d);
            return d.isEnd() ? t : null;
        } catch (Exception | StackOverflowError undecodable) {
            return null;
        }
    }

    int check(Map<TopicPartition, Long> mark, long timeoutMillis) throws Exception {
        long deadline = System.currentTimeMillis() + timeoutMillis;
        Map<TopicPartition, Long> end = ends();

        SpecificDatumReader<UserEvent> eventReader = new SpecificDatumReader<>(UserEvent.class);
        Map<String, List<Input>> byId = new HashMap<>();
        Set<String> undecodable = new HashSet<>();   // "partition/offset"
        long[] records = {0};
        boolean eventsRead = read(events, mark, end, deadline, r -> {
            records[0]++;
            UserEvent e = decode(eventReader, r.value());
            if (e == null) undecodable.add(r.partition() + "/" + r.offset());
            else byId.computeIfAbsent(e.getEventId().toString(), k -> new ArrayList<>(1))
                    .add(new Input(e.getUserId().toString(), r.partition(), r.offset()));
        });

        // Outcomes arrive after their inputs: read on until each input has one, then once more to the end.
        SpecificDatumReader<Prediction> predictionReader = new SpecificDatumReader<>(Prediction.class);
        SpecificDatumReader<DeadLetter> deadLetterReader = new SpecificDatumReader<>(DeadLetter.class);
        Map<String, Integer> deadLettered = new HashMap<>();
        Map<String, Long> reasons = new TreeMap<>();
        Map<String, Long> servedBy = new TreeMap<>();
        long[] n = new long[4]; // predictions of audited events, fallbacks, of the wrong user, undecodable outcomes
        Map<TopicPartition, Long> predictionsFrom = new HashMap<>(mark), deadLettersFrom = new HashMap<>(mark);
        boolean outcomesRead;
        boolean settled = false;
        while (true) {
            Map<TopicPartition, Long> now = ends();
            outcomesRead = read(predictions, predictionsFrom, now, deadline, r -> {
                Prediction p = decode(predictionReader, r.value());
                if (p == null) { n[3]++; return; }
                List<Input> inputs = byId.get(p.getEventId().toString());
                if (inputs == null) return;   // an event from before the mark
                n[0]++;
                if (p.getFallback()) n[1]++;
                servedBy.merge(String.valueOf(p.getServedBy()), 1L, Long::sum);
                Input first = inputs.stream().filter(i -> i.predictions == 0).findFirst().orElse(inputs.get(0));
                if (!first.userId.equals(p.getUserId().toString())) n[2]++;
                first.predictions++;
                first.contextEvents = p.getContextEvents();
            });
            outcomesRead &= read(deadLetters, deadLettersFrom, now, deadline, r -> {
                DeadLetter d = decode(deadLetterReader, r.value());
                if (d == null) { n[3]++; return; }
                if (!d.getSourceTopic().toString().equals(events)) return;
                deadLettered.merge(d.getSourcePartition() + "/" + d.getSourceOffset(), 1, Integer::sum);
                String reason = d.getReason().toString();
                reasons.merge(reason.length() > 60 ? reason.substring(0, 60) + "..." : reason, 1L, Long::sum);
            });
            for (TopicPartition tp : now.keySet()) {
                if (tp.topic().equals(predictions)) predictionsFrom.put(tp, now.get(tp));
                if (tp.topic().equals(deadLetters)) deadLettersFrom.put(tp, now.get(tp));
            }
            if (settled || System.currentTimeMillis() >= deadline) break;
            settled = byId.values().stream().flatMap(List::stream)
                    .allMatch(i -> i.predictions > 0 || deadLettered.containsKey(i.partition + "/" + i.offset))
                    && undecodable.stream().allMatch(deadLettered::containsKey);
            if (!settled) Thread.sleep(1000);
        }

        long inputs = 0, missing = 0, twice = 0, idsTwice = 0, decodableDeadLettered = 0;
        for (List<Input> same : byId.values()) {
            if (same.size() > 1) idsTwice++;
            for (Input i : same) {
                inputs++;
                int outcomes = i.predictions + deadLettered.getOrDefault(i.partition + "/" + i.offset, 0);
                if (i.predictions == 0 && outcomes > 0) decodableDeadLettered++;
                if (outcomes == 0) missing++;
                if (outcomes > 1) twice++;
            }
        }
        long badMissing = undecodable.stream().filter(k -> !deadLettered.containsKey(k)).count();
        long badTwice = undecodable.stream().filter(k -> deadLettered.getOrDefault(k, 0) > 1).count();

        // Per user, in the order of the user's records in its partition: contextEvents goes on by one.
        Map<String, List<Input>> byUser = new HashMap<>();
        byId.values().stream().filter(same -> same.size() == 1).map(same -> same.get(0))
                .filter(i -> i.predictions == 1 && i.contextEvents != null)
                .forEach(i -> byUser.computeIfAbsent(i.userId, u -> new ArrayList<>()).add(i));
        long repeats = 0, gaps = 0, restarts = 0;
        for (List<Input> seq : byUser.values()) {
            seq.sort(Comparator.comparingLong(i -> i.offset));
            for (int k = 1; k < seq.size(); k++) {
                long prev = seq.get(k - 1).contextEvents, cur = seq.get(k).contextEvents;
                if (cur == prev + 1) continue;
                if (cur == 1) restarts++;
                else if (cur <= prev) repeats++;
                else gaps++;
            }
        }

        boolean complete = eventsRead && outcomesRead;
        System.out.printf("input records since the mark %d: %d events (%d ids written more than once by the producer),"
                        + " %d undecodable%n", records[0], inputs, idsTwice, undecodable.size());
        System.out.printf("predictions (read_committed) %d: events without an outcome %d, with more than one %d,"
                        + " prediction for another user %d, fallbacks %d, servedBy %s%n",
                n[0], missing, twice, n[2], n[1], servedBy);
        System.out.printf("dead letters: %d of %d undecodable records (%d twice, %d missing); %d events refused;"
                        + " reasons %s%n", undecodable.size() - badMissing, undecodable.size(), badTwice, badMissing,
                decodableDeadLettered, reasons);
        System.out.printf("per-user sequence: %d users, contextEvents repeated %d, skipped %d, started again at 1 %d%n",
                byUser.size(), repeats, gaps, restarts);
        if (n[3] > 0) System.out.printf("outcome records no reader could decode: %d%n", n[3]);
        if (!complete) System.out.println("INCOMPLETE: the topics were not read to their end within the timeout");
        boolean ok = complete && inputs > 0 && missing == 0 && twice == 0 && n[2] == 0 && badMissing == 0
                && badTwice == 0 && repeats == 0 && gaps == 0;
        System.out.printf("audit %s: %d missing, %d duplicated%n", ok ? "PASSED" : "FAILED", missing + badMissing,
                twice + badTwice);
        return ok ? 0 : 1;
    }

    /** Records no reader can decode: random bytes, and real events cut off part-way. */
    static void badInput(String bootstrap, String topic, int count) throws Exception {
        Random random = new Random();
        UserEvent template = UserEvent.newBuilder()
                .setEventId("chaos-bad").setUserId("chaos-bad-user").setSessionId("chaos")
                .setEventType(dev.flinkai.schemas.EventType.QUERY).setEventTimeMillis(System.currentTimeMillis())
                .build();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BinaryEncoder enc = EncoderFactory.get().binaryEncoder(out, null);
        new SpecificDatumWriter<>(UserEvent.class).write(template, enc);
        enc.flush();
        byte[] whole = out.toByteArray();
        try (KafkaProducer<byte[], byte[]> producer = KafkaTools.producer(bootstrap)) {
            for (int i = 0; i < count; i++) {
                byte[] value = i % 2 == 0 ? new byte[1 + random.nextInt(64)] : Arrays.copyOf(whole, 1 + random.nextInt(whole.length - 1));
                if (i % 2 == 0) {
                    random.nextBytes(value);
                    value[0] = 1;   // a string length of -1: no reader takes it for an event id
                }
                producer.send(new ProducerRecord<>(topic, ("chaos-bad-" + i).getBytes(StandardCharsets.UTF_8), value));
            }
            producer.flush();
        }
        System.out.println("wrote " + count + " undecodable records to " + topic);
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], events = args[1], predictions = args[2], deadLetters = args[3], mode = args[4];
        switch (mode) {
            case "mark" -> {
                Audit a = new Audit(bootstrap, events, predictions, deadLetters);
                StringBuilder sb = new StringBuilder();
                a.ends().forEach((tp, o) -> sb.append(tp.topic()).append(' ').append(tp.partition()).append(' ').append(o).append('\n'));
                Files.writeString(Path.of(args[5]), sb.toString());
                a.consumer.close();
            }
            case "bad-input" -> badInput(bootstrap, events, Integer.parseInt(args[5]));
            case "check" -> {
                Audit a = new Audit(bootstrap, events, predictions, deadLetters);
                int rc = a.check(readMark(Path.of(args[5])), Long.parseLong(args[6]) * 1000);
                a.consumer.close();
                System.exit(rc);
            }
            default -> throw new IllegalArgumentException("mode must be mark, bad-input or check: " + mode);
        }
    }
}
