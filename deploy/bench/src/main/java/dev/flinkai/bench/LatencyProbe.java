package dev.flinkai.bench;

import dev.flinkai.operators.simulation.UserBehaviourSimulator;
import dev.flinkai.schemas.AvroCoders;
import dev.flinkai.schemas.Prediction;
import dev.flinkai.schemas.UserEvent;

import org.HdrHistogram.Histogram;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * End-to-end latency of a running scoring job at a fixed input rate. Produces simulated {@link UserEvent}s (Avro
 * binary, keyed by user, {@code linger.ms=1} unless {@code --linger-ms} says otherwise) to {@code --events-topic} at
 * {@code --rate} events/s and consumes {@code --predictions-topic} from its end. For every prediction of an event it
 * sent after the warm-up it records
 *
 * <ul>
 *   <li>{@code latency}: receive time minus send time, both from this JVM's {@code System.nanoTime()} (the event id
 *       carries the sequence number; microsecond resolution);</li>
 *   <li>{@code latency_ingest_ts}: receive wall time minus the prediction's {@code ingestTimeMillis} (the Kafka record
 *       timestamp the job copies; millisecond resolution, so up to 1 ms higher);</li>
 *   <li>{@code until_scored} and {@code after_scored}: that time split at the prediction's {@code predictTimeMillis}
 *       (producer, broker, source, shuffle, state, batching and the model; then the job's sink, the broker and this
 *       consumer), to see where a tail comes from.</li>
 * </ul>
 * Prints one JSON object (percentiles in ms), also split by lane: events of priority above 0 ({@code priority}) and
 * the others ({@code normal}); {@code --priority-share F} sends a random share F of the events with priority 2 and the
 * rest with 0, instead of the simulator's own priorities. Events sent during the warm-up are scored but not recorded.
 * With {@code --timeline-file F} it also writes, per 100 ms of send time (warm-up included), the wall-clock start of
 * the slot, the predictions received and their highest latency: to line a tail up with checkpoints or CPU use.
 *
 * <pre>
 * java -cp flink-ai-bench.jar:slf4j-api.jar:slf4j-nop.jar dev.flinkai.bench.LatencyProbe --bootstrap 127.0.0.1:9092 \
 *   --events-topic bench-latency-events --predictions-topic bench-latency-predictions --rate 10000 \
 *   [--users 100000] [--warmup-seconds 10] [--seconds 30] [--drain-seconds 10] [--linger-ms 1] [--timeline-file F]
 * </pre>
 */
public final class LatencyProbe {
    private static final long PACING_NANOS = 200_000;
    private static final long TIMELINE_SLOT_NANOS = 100_000_000;

    private LatencyProbe() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> a = BenchArgs.parse(args);
        String bootstrap = BenchArgs.get(a, "bootstrap", "127.0.0.1:9092");
        String eventsTopic = BenchArgs.get(a, "events-topic", null);
        String predictionsTopic = BenchArgs.get(a, "predictions-topic", null);
        double rate = Double.parseDouble(BenchArgs.get(a, "rate", null));
        int users = Integer.parseInt(BenchArgs.get(a, "users", "100000"));
        double warmupSeconds = Double.parseDouble(BenchArgs.get(a, "warmup-seconds", "10"));
        double seconds = Double.parseDouble(BenchArgs.get(a, "seconds", "30"));
        double drainSeconds = Double.parseDouble(BenchArgs.get(a, "drain-seconds", "10"));
        // Like most real producers, linger a little: with 0 every event was its own produce request, and the broker,
        // on the same two cores as the job, spent more CPU on those requests than the job did on the events.
        String lingerMs = BenchArgs.get(a, "linger-ms", "1");
        String timelineFile = BenchArgs.get(a, "timeline-file", "");
        // The share of events sent with priority 2 instead of the simulator's own (negative: keep the simulator's).
        double priorityShare = Double.parseDouble(BenchArgs.get(a, "priority-share", "-1"));

        // Avro's generated coders: the generic ones cost this JVM ~0.5 cores at 75k events/s, beside the job under test.
        AvroCoders.enable();
        String runId = "probe" + Long.toString(System.currentTimeMillis(), 36);
        String prefix = runId + "-";
        int total = (int) Math.ceil(rate * (warmupSeconds + seconds));
        int firstMeasured = (int) Math.ceil(rate * warmupSeconds);
        long[] sendNanos = new long[total];
        BitSet seen = new BitSet(total);
        BitSet urgent = new BitSet(total);
        Histogram urgentLatency = new Histogram(3_600_000_000L, 3);   // micros, priority > 0 only
        Histogram normalLatency = new Histogram(3_600_000_000L, 3);   // micros, priority 0 only
        long[] laneFallbacks = new long[2];                           // normal, priority
        Histogram urgentUntilScored = new Histogram(3_600_000_000L, 3); // micros (millisecond inputs), priority > 0
        Map<String, Long> urgentFallbackReasons = new java.util.TreeMap<>(); // reason up to its first ':', count
        Histogram latency = new Histogram(3_600_000_000L, 3);        // micros
        Histogram latencyIngestTs = new Histogram(3_600_000_000L, 3); // micros (millisecond inputs)
        Histogram untilScored = new Histogram(3_600_000_000L, 3);     // micros (millisecond inputs)
        Histogram afterScored = new Histogram(3_600_000_000L, 3);     // micros (millisecond inputs)
        AtomicLong sent = new AtomicLong();
        AtomicBoolean producing = new AtomicBoolean(true);
        long[] counts = new long[4]; // received (measured), duplicates, fallbacks, foreign
        int timelineSlots = (int) Math.ceil((warmupSeconds + seconds + drainSeconds) * 1e9 / TIMELINE_SLOT_NANOS) + 1;
        long[] slotCount = new long[timelineSlots];
        long[] slotMaxMicros = new long[timelineSlots];
        AtomicLong startNanos = new AtomicLong(Long.MAX_VALUE);

        // Consumer first, positioned at the end of every partition, so no prediction of ours is missed.
        Properties cp = BenchArgs.consumerProperties(bootstrap, "read_committed");
        cp.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "100");
        KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(cp);
        List<TopicPartition> parts = new ArrayList<>();
        for (PartitionInfo p : consumer.partitionsFor(predictionsTopic)) {
            parts.add(new TopicPartition(p.topic(), p.partition()));
        }
        consumer.assign(parts);
        consumer.seekToEnd(parts);
        parts.forEach(consumer::position);

        Thread consumerThread = new Thread(() -> {
            SpecificDatumReader<Prediction> reader = new SpecificDatumReader<>(Prediction.class);
            BinaryDecoder decoder = null;
            Prediction p = new Prediction();
            long deadline = Long.MAX_VALUE;
            int expectedMeasured = -1;
            try {
                while (true) {
                    for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(50))) {
                        long nowNanos = System.nanoTime();
                        long nowMillis = System.currentTimeMillis();
                        decoder = DecoderFactory.get().binaryDecoder(r.value(), decoder);
                        p = reader.read(p, decoder);
                        String id = p.getEventId().toString();
                        if (!id.startsWith(prefix)) {
                            counts[3]++;
                            continue;
                        }
                        int seq = Integer.parseInt(id.substring(prefix.length()));
                        if (seen.get(seq)) {
                            counts[1]++;
                            continue;
                        }
                        seen.set(seq);
                        long micros = Math.max(0, (nowNanos - sendNanos[seq]) / 1_000);
                        long slotOfSend = (sendNanos[seq] - startNanos.get()) / TIMELINE_SLOT_NANOS;
                        int slot = (int) Math.min(timelineSlots - 1, Math.max(0, slotOfSend));
                        slotCount[slot]++;
                        slotMaxMicros[slot] = Math.max(slotMaxMicros[slot], micros);
                        if (seq < firstMeasured) {
                            continue;
                        }
                        counts[0]++;
                        boolean isUrgent = urgent.get(seq);
                        if (p.getFallback()) {
                            counts[2]++;
                            laneFallbacks[isUrgent ? 1 : 0]++;
                            if (isUrgent) {
                                String reason = String.valueOf(p.getFallbackReason());
                                urgentFallbackReasons.merge(reason.split(":", 2)[0], 1L, Long::sum);
                            }
                        }
                        latency.recordValue(micros);
                        (isUrgent ? urgentLatency : normalLatency).recordValue(micros);
                        latencyIngestTs.recordValue(Math.max(0, (nowMillis - p.getIngestTimeMillis()) * 1_000));
                        untilScored.recordValue(Math.max(0, (p.getPredictTimeMillis() - p.getIngestTimeMillis()) * 1_000));
                        afterScored.recordValue(Math.max(0, (nowMillis - p.getPredictTimeMillis()) * 1_000));
                        if (isUrgent) {
                            urgentUntilScored.recordValue(Math.max(0, (p.getPredictTimeMillis() - p.getIngestTimeMillis()) * 1_000));
                        }
                    }
                    if (!producing.get()) {
                        if (expectedMeasured < 0) {
                            expectedMeasured = (int) Math.max(0, sent.get() - firstMeasured);
                            deadline = System.nanoTime() + (long) (drainSeconds * 1e9);
                        }
                        if (counts[0] >= expectedMeasured || System.nanoTime() > deadline) {
                            return;
                        }
                    }
                }
            } catch (Exception e) {
                e.printStackTrace();
            }
        }, "latency-consumer");
        consumerThread.start();

        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        pp.put(ProducerConfig.LINGER_MS_CONFIG, lingerMs);
        pp.put(ProducerConfig.ACKS_CONFIG, "1");
        UserBehaviourSimulator simulator = new UserBehaviourSimulator(42, users, 0.8, 0, 1);
        java.util.SplittableRandom shareRandom = new java.util.SplittableRandom(7);
        SpecificDatumWriter<UserEvent> writer = new SpecificDatumWriter<>(UserEvent.class);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
        BinaryEncoder encoder = null;
        long maxBehindNanos = 0;
        long start;
        long startMillis;
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(pp)) {
            producer.partitionsFor(eventsTopic); // metadata before the clock starts
            double intervalNanos = 1e9 / rate;
            startMillis = System.currentTimeMillis();
            start = System.nanoTime();
            startNanos.set(start);
            for (int seq = 0; seq < total; seq++) {
                long due = start + (long) (seq * intervalNanos);
                long now = System.nanoTime();
                // Sleep only when the next event is at least PACING_NANOS away, and never spin: waking up for every
                // event cost this JVM more CPU than the job under test at 20k events/s, on the same two cores.
                // Latency is measured from the real send time, so the up to 0.2 ms of early sends bias nothing.
                while (due - now > PACING_NANOS) {
                    LockSupport.parkNanos(due - now - PACING_NANOS / 2);
                    now = System.nanoTime();
                }
                if (seq >= firstMeasured) {
                    maxBehindNanos = Math.max(maxBehindNanos, now - due);
                }
                UserEvent event = simulator.next(prefix + seq, System.currentTimeMillis());
                if (priorityShare >= 0) {
                    event.setPriority(shareRandom.nextDouble() < priorityShare ? 2 : 0);
                }
                if (event.getPriority() > 0) {
                    urgent.set(seq);
                }
                bytes.reset();
                encoder = EncoderFactory.get().binaryEncoder(bytes, encoder);
                writer.write(event, encoder);
                encoder.flush();
                sendNanos[seq] = System.nanoTime();
                producer.send(new ProducerRecord<>(eventsTopic, event.getUserId().getBytes(StandardCharsets.UTF_8),
                        bytes.toByteArray()));
                sent.incrementAndGet();
            }
            producer.flush();
        }
        double produceSeconds = (System.nanoTime() - start) / 1e9;
        producing.set(false);
        consumerThread.join();
        consumer.close();

        long expected = Math.max(0, sent.get() - firstMeasured);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("rate_target", rate);
        out.put("rate_achieved", Math.round(sent.get() / produceSeconds));
        out.put("warmup_s", warmupSeconds);
        out.put("measure_s", seconds);
        out.put("sent", sent.get());
        out.put("measured_expected", expected);
        out.put("count", counts[0]);
        out.put("missing", expected - counts[0]);
        out.put("duplicates", counts[1]);
        out.put("fallbacks", counts[2]);
        out.put("producer_max_behind_ms", ModelLimitBench.round(maxBehindNanos / 1e6, 3));
        out.putAll(percentiles("", latency));
        out.put("latency_ingest_ts", percentiles("", latencyIngestTs));
        out.put("until_scored", percentiles("", untilScored));
        out.put("after_scored", percentiles("", afterScored));
        out.put("histogram_ms", distribution(latency));
        Map<String, Object> priority = percentiles("", urgentLatency);
        priority.put("count", urgentLatency.getTotalCount());
        priority.put("fallbacks", laneFallbacks[1]);
        priority.put("fallback_reasons", urgentFallbackReasons);
        priority.put("until_scored", percentiles("", urgentUntilScored));
        out.put("priority", priority);
        Map<String, Object> normal = percentiles("", normalLatency);
        normal.put("count", normalLatency.getTotalCount());
        normal.put("fallbacks", laneFallbacks[0]);
        out.put("normal", normal);
        System.out.println(BenchArgs.toJson(out));
        if (!timelineFile.isEmpty()) {
            StringBuilder lines = new StringBuilder("slot_start_ms predictions max_latency_ms\n");
            for (int i = 0; i < timelineSlots; i++) {
                lines.append(startMillis + i * TIMELINE_SLOT_NANOS / 1_000_000).append(' ').append(slotCount[i]).append(' ')
                        .append(ms(slotMaxMicros[i])).append('\n');
            }
            Files.writeString(Path.of(timelineFile), lines);
        }
    }

    private static Map<String, Object> percentiles(String prefix, Histogram h) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put(prefix + "p50_ms", ms(h.getValueAtPercentile(50)));
        m.put(prefix + "p90_ms", ms(h.getValueAtPercentile(90)));
        m.put(prefix + "p99_ms", ms(h.getValueAtPercentile(99)));
        m.put(prefix + "p999_ms", ms(h.getValueAtPercentile(99.9)));
        m.put(prefix + "max_ms", ms(h.getMaxValue()));
        m.put(prefix + "mean_ms", ModelLimitBench.round(h.getMean() / 1000.0, 3));
        return m;
    }

    /** Percentile curve for plotting: [percentile, ms] pairs from p0 up to p99.99 and the max. */
    private static List<List<Double>> distribution(Histogram h) {
        List<List<Double>> rows = new ArrayList<>();
        if (h.getTotalCount() == 0) {
            return rows;
        }
        double[] ps = {0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 92.5, 95, 96, 97, 98, 99, 99.5, 99.75, 99.9,
                99.95, 99.99, 100};
        for (double p : ps) {
            rows.add(List.of(p, ms(p == 100 ? h.getMaxValue() : h.getValueAtPercentile(p))));
        }
        return rows;
    }

    private static double ms(long micros) {
        return ModelLimitBench.round(micros / 1000.0, 3);
    }
}
