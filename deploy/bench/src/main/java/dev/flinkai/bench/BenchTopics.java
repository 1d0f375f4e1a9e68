package dev.flinkai.bench;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Topic housekeeping for the benchmark in one JVM: deletes the topics of earlier benchmark runs (names starting with
 * {@code --delete-prefix}), then creates {@code name:partitions} topics (replication factor 1).
 *
 * <pre>
 * java -cp flink-ai-bench.jar:slf4j-api.jar:slf4j-nop.jar dev.flinkai.bench.BenchTopics --bootstrap 127.0.0.1:9092 \
 *   --delete-prefix bench- --create bench-1-events:4,bench-1-out:4
 * </pre>
 */
public final class BenchTopics {

    private BenchTopics() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> a = BenchArgs.parse(args);
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, BenchArgs.get(a, "bootstrap", "127.0.0.1:9092"));
        try (Admin admin = Admin.create(p)) {
            String prefix = a.get("delete-prefix");
            if (prefix != null && !prefix.isBlank()) {
                Set<String> old = admin.listTopics().names().get(30, TimeUnit.SECONDS).stream()
                        .filter(t -> t.startsWith(prefix)).collect(Collectors.toSet());
                if (!old.isEmpty()) {
                    admin.deleteTopics(old).all().get(60, TimeUnit.SECONDS);
                    System.out.println("deleted " + old.size() + " topic(s) " + old);
                }
            }
            String create = a.get("create");
            if (create != null && !create.isBlank()) {
                List<NewTopic> topics = new ArrayList<>();
                for (String spec : create.split(",")) {
                    String[] nameAndPartitions = spec.trim().split(":");
                    topics.add(new NewTopic(nameAndPartitions[0], Integer.parseInt(nameAndPartitions[1]), (short) 1));
                }
                admin.createTopics(topics).all().get(60, TimeUnit.SECONDS);
                System.out.println("created " + topics.stream().map(NewTopic::name).toList());
            }
        }
    }
}
