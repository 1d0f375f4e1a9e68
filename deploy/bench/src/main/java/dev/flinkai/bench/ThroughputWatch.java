package dev.flinkai.bench;

import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * Measures one throughput run of a job from outside, without touching the TaskManager: watches the end offsets of the
 * job's output topic (read_uncommitted, so records of open transactions count as soon as the sink wrote them) and
 * the CPU time of the TaskManager processes ({@code /proc/<pid>/stat} utime + stime; {@code --tm-pid} takes a
 * comma-separated list when the job runs on several TaskManagers, and their CPU is summed).
 *
 * <ol>
 *   <li>takes the output topic's end offsets as the baseline, prints {@code READY} (then submit the job);</li>
 *   <li>when {@code --warmup-fraction} of the expected records are out (default 0.2; at least the first record):
 *       start of the measured window. Job start-up, model loading, RocksDB opening and most JIT compilation of
 *       the freshly loaded job classes are before it; TaskManager CPU and time are read;</li>
 *   <li>when {@code --expected} new records are out: end of the window, read again; prints one JSON line.</li>
 * </ol>
 * The event count is the number of output records (one per input event; in exactly-once mode the topic also holds a
 * commit marker per partition and transaction, a handful per run, which this count includes). Exits 2 on timeout.
 *
 * <p>With {@code --server-pid}, the CPU of that process (a model server the job calls) is read too and counted in
 * {@code events_per_cpu_s}: what scoring through it costs in all.
 */
public final class ThroughputWatch {

    private ThroughputWatch() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> a = BenchArgs.parse(args);
        String bootstrap = BenchArgs.get(a, "bootstrap", "127.0.0.1:9092");
        String topic = BenchArgs.get(a, "topic", null);
        long expected = Long.parseLong(BenchArgs.get(a, "expected", null));
        long[] tmPids = Arrays.stream(BenchArgs.get(a, "tm-pid", null).split(","))
                .mapToLong(Long::parseLong).toArray();
        long serverPid = Long.parseLong(BenchArgs.get(a, "server-pid", "0"));
        long clkTck = Long.parseLong(BenchArgs.get(a, "clk-tck", "100"));
        double timeoutSeconds = Double.parseDouble(BenchArgs.get(a, "timeout-seconds", "900"));
        long pollMillis = Long.parseLong(BenchArgs.get(a, "poll-ms", "50"));
        long warmupRecords = Math.max(1, (long) (expected * Double.parseDouble(BenchArgs.get(a, "warmup-fraction", "0.2"))));

        Properties cp = BenchArgs.consumerProperties(bootstrap, "read_uncommitted");
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(cp)) {
            List<TopicPartition> parts = new ArrayList<>();
            for (PartitionInfo p : consumer.partitionsFor(topic)) {
                parts.add(new TopicPartition(p.topic(), p.partition()));
            }
            long base = sum(consumer.endOffsets(parts));
            long submitTicks = cpuTicks(tmPids);
            long serverTicks0 = 0;
            long submitNanos = System.nanoTime();
            System.out.println("READY");
            System.out.flush();

            long deadline = submitNanos + (long) (timeoutSeconds * 1e9);
            long t0 = 0;
            long ticks0 = 0;
            long count0 = 0;
            long count;
            while (true) {
                count = sum(consumer.endOffsets(parts)) - base;
                if (count >= warmupRecords && t0 == 0) {
                    t0 = System.nanoTime();
                    ticks0 = cpuTicks(tmPids);
                    serverTicks0 = serverPid == 0 ? 0 : cpuTicks(serverPid);
                    count0 = count;
                }
                if (count >= expected) {
                    break;
                }
                if (System.nanoTime() > deadline) {
                    System.out.println(BenchArgs.toJson(Map.of("error", "timeout", "records", count,
                            "expected", expected)));
                    System.exit(2);
                }
                Thread.sleep(pollMillis);
            }
            long t1 = System.nanoTime();
            long ticks1 = cpuTicks(tmPids);
            long serverTicks1 = serverPid == 0 ? 0 : cpuTicks(serverPid);
            double wall = (t1 - t0) / 1e9;
            double cpu = (double) (ticks1 - ticks0) / clkTck;
            double serverCpu = (double) (serverTicks1 - serverTicks0) / clkTck;
            long events = count - count0;
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("expected", expected);
            out.put("records", count);
            out.put("events", events);
            out.put("records_before_window", count0);
            out.put("wall_s", ModelLimitBench.round(wall, 3));
            out.put("tm_cpu_s", ModelLimitBench.round(cpu, 3));
            out.put("events_per_s", Math.round(events / wall));
            if (serverPid != 0) {
                out.put("server_cpu_s", ModelLimitBench.round(serverCpu, 3));
                out.put("events_per_tm_cpu_s", Math.round(events / cpu));
            }
            out.put("events_per_cpu_s", Math.round(events / (cpu + serverCpu)));
            out.put("tm_cores_busy", ModelLimitBench.round(cpu / wall, 3));
            out.put("wall_s_incl_startup", ModelLimitBench.round((t1 - submitNanos) / 1e9, 3));
            out.put("tm_cpu_s_incl_startup", ModelLimitBench.round((double) (ticks1 - submitTicks) / clkTck, 3));
            out.put("startup_s", ModelLimitBench.round((t0 - submitNanos) / 1e9, 3));
            System.out.println(BenchArgs.toJson(out));
        }
    }

    private static long sum(Map<TopicPartition, Long> offsets) {
        return offsets.values().stream().mapToLong(Long::longValue).sum();
    }

    private static long cpuTicks(long[] pids) throws IOException {
        long ticks = 0;
        for (long pid : pids) {
            ticks += cpuTicks(pid);
        }
        return ticks;
    }

    /** utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat). */
    static long cpuTicks(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }
}
