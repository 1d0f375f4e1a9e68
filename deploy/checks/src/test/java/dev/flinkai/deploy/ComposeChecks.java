package dev.flinkai.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.flink.configuration.Configuration;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * deploy/docker-compose.yml without a Docker engine: its images are this build's and Kubernetes' (pinned, never
 * latest), its Flink configuration passes the same option checks as the FlinkDeployments', its job arguments pass
 * the jobs' own settings checks and equal the local stack's defaults (deploy/local/stack.env), as do its topics and
 * buckets, its JobManager is highly available through a ZooKeeper it runs, as the local stack's, its only
 * credentials are the local stack's documented dev defaults behind overridable variables, and the files it mounts
 * exist. Each problem names the service and the field.
 */
final class ComposeChecks {

    private static final Pattern CREDENTIAL_NAME = Pattern.compile("(?i).*(password|secret|access_key|key_id).*");
    private static final Pattern OVERRIDABLE = Pattern.compile("\\$\\{([A-Z0-9_]+):-([^}]*)}");
    private static final Pattern TOPIC = Pattern.compile("--topic (\\S+) --partitions (\\d+)");
    private static final Pattern BUCKETS = Pattern.compile("mc mb --ignore-existing ((?:\\S+/\\S+\\s*)+)");

    private final FlinkOptions options;
    private final Map<String, String> stack;
    private final Map<String, String> kubernetesImages;
    private final Path composeDir;

    /**
     * @param stack            deploy/local/stack.env's defaults
     * @param kubernetesImages image repository -> image, of the non-Flink containers of deploy/k8s
     * @param composeDir       the compose file's directory, which its relative mounts start from
     */
    ComposeChecks(FlinkOptions options, Map<String, String> stack, Map<String, String> kubernetesImages,
                  Path composeDir) {
        this.options = options;
        this.stack = stack;
        this.kubernetesImages = kubernetesImages;
        this.composeDir = composeDir;
    }

    List<String> check(ObjectNode compose) {
        List<String> problems = new ArrayList<>();
        compose.path("services").properties().forEach(service -> {
            String name = service.getKey();
            JsonNode spec = service.getValue();
            checkImage(name, spec, problems);
            checkMounts(name, spec, problems);
            spec.path("environment").properties().forEach(env -> {
                if (CREDENTIAL_NAME.matcher(env.getKey()).matches() && !devDefault(env.getValue().asText())) {
                    problems.add(name + " environment." + env.getKey() + ": a credential must be ${VARIABLE:-default}"
                            + " with a variable and dev default of deploy/local/stack.env, not '"
                            + env.getValue().asText() + "'");
                }
            });
            String properties = Yaml.text(spec, "environment.FLINK_PROPERTIES");
            if (properties != null) {
                checkFlinkConfiguration(name, properties, compose.path("services"), problems);
            }
            if (name.startsWith("submit-")) {
                checkSubmission(name, spec, problems);
            }
        });
        checkTopicsAndBuckets(compose, problems);
        return problems;
    }

    private void checkImage(String service, JsonNode spec, List<String> problems) {
        String image = Yaml.text(spec, "image");
        if (image == null) {
            problems.add(service + " image: not set");
            return;
        }
        int slash = image.lastIndexOf('/');
        int colon = image.lastIndexOf(':');
        String repository = colon > slash ? image.substring(0, colon) : image;
        String tag = colon > slash ? image.substring(colon + 1) : null;
        if (tag == null || tag.equals("latest")) {
            problems.add(service + " image: '" + image + "' names no version");
        } else if (repository.equals("flink-ai") && !tag.equals(Build.projectVersion())) {
            problems.add(service + " image: '" + image + "', but this build's image is flink-ai:"
                    + Build.projectVersion());
        } else if (repository.equals("apache/kafka") && !tag.equals(Build.kafkaVersion())) {
            problems.add(service + " image: '" + image + "', but the root pom's kafka.version is "
                    + Build.kafkaVersion());
        } else if (repository.startsWith("flink") && !repository.equals("flink-ai")) {
            problems.add(service + " image: '" + image + "'; the Flink services run this build's image, flink-ai");
        } else if (kubernetesImages.containsKey(repository) && !kubernetesImages.get(repository).equals(image)) {
            problems.add(service + " image: '" + image + "', but deploy/k8s runs " + kubernetesImages.get(repository));
        }
        String dockerfile = Yaml.text(spec, "build.dockerfile");
        if (dockerfile != null && !dockerfile.equals("deploy/Dockerfile")) {
            problems.add(service + " build.dockerfile: '" + dockerfile + "', not deploy/Dockerfile");
        }
    }

    /** Docker mounts a missing source as an empty directory it creates: the service would start without its files. */
    private void checkMounts(String service, JsonNode spec, List<String> problems) {
        spec.path("volumes").forEach(volume -> {
            String source = volume.asText().split(":")[0];
            if ((source.startsWith("./") || source.startsWith("../")) && !Files.exists(composeDir.resolve(source))) {
                problems.add(service + " volumes: '" + source + "' does not exist (relative to " + composeDir + ")");
            }
        });
    }

    private void checkFlinkConfiguration(String service, String properties, JsonNode services, List<String> problems) {
        Map<String, String> conf = new LinkedHashMap<>();
        Yaml.documents(properties).get(0).properties().forEach(e -> conf.put(e.getKey(), e.getValue().asText()));
        String where = service + " environment.FLINK_PROPERTIES";
        problems.addAll(options.check(conf, where));
        expect(conf, "execution.checkpointing.dir", stack.get("CHECKPOINT_DIR"), where, problems);
        expect(conf, "execution.checkpointing.savepoint-dir", stack.get("SAVEPOINT_DIR"), where, problems);
        expect(conf, "taskmanager.numberOfTaskSlots", stack.get("TM_SLOTS"), where, problems);
        expect(conf, "jobmanager.memory.process.size", stack.get("JM_PROCESS_SIZE"), where, problems);
        expect(conf, "taskmanager.memory.process.size", stack.get("TM_PROCESS_SIZE"), where, problems);
        expect(conf, "restart-strategy.type", "failure-rate", where, problems);
        expect(conf, "restart-strategy.failure-rate.max-failures-per-interval", stack.get("RESTART_MAX_FAILURES"), where, problems);
        expect(conf, "restart-strategy.failure-rate.failure-rate-interval", stack.get("RESTART_FAILURE_INTERVAL"), where, problems);
        expect(conf, "restart-strategy.failure-rate.delay", stack.get("RESTART_DELAY"), where, problems);
        expect(conf, "execution.checkpointing.timeout", stack.get("CHECKPOINT_TIMEOUT"), where, problems);
        expect(conf, "execution.checkpointing.tolerable-failed-checkpoints", stack.get("CHECKPOINT_TOLERABLE_FAILURES"), where, problems);
        checkHighAvailability(conf, services, where, problems);
    }

    /** As the local stack: ZooKeeper HA, a session timeout of stack.env's, a quorum of services this file runs. */
    private void checkHighAvailability(Map<String, String> conf, JsonNode services, String where, List<String> problems) {
        expect(conf, "high-availability.type", "zookeeper", where, problems);
        expect(conf, "high-availability.zookeeper.client.session-timeout", stack.get("ZK_SESSION_TIMEOUT_MS"), where,
                problems);
        for (String server : conf.getOrDefault("high-availability.zookeeper.quorum", "").split(",")) {
            String host = server.strip().split(":")[0];
            if (!services.has(host)) {
                problems.add(where + ".high-availability.zookeeper.quorum: '" + server.strip()
                        + "' is not a service of this file");
            }
        }
        String storage = conf.getOrDefault("high-availability.storageDir", "");
        if (!storage.startsWith("s3://")) {
            problems.add(where + ".high-availability.storageDir: '" + storage + "'; the JobManager's container "
                    + "disk goes with it, so the job graphs and checkpoint pointers must be in S3");
        }
    }

    /** command: job name, entry class, job arguments (see x-submit in the compose file). */
    private void checkSubmission(String service, JsonNode spec, List<String> problems) {
        List<String> command = new ArrayList<>();
        spec.path("command").forEach(c -> command.add(c.asText()));
        if (command.size() < 2) {
            problems.add(service + " command: not <job name> <entry class> <arguments...>");
            return;
        }
        Jobs job = Jobs.byEntryClass(command.get(1)).orElse(null);
        if (job == null) {
            problems.add(service + " command: '" + command.get(1) + "' is none of the project's jobs");
            return;
        }
        List<String> args = command.subList(2, command.size());
        Map<String, String> environment = new LinkedHashMap<>();
        spec.path("environment").properties().forEach(e -> environment.put(e.getKey(), e.getValue().asText()));
        try {
            // The job's main runs in this client (session mode): its cluster configuration is the client's, empty.
            job.checkSettings(args.toArray(String[]::new), new Configuration(), environment);
        } catch (IllegalArgumentException e) {
            problems.add(service + " command: refused by " + command.get(1) + ": " + e.getMessage());
        }
        Map<String, String> given = DeploymentChecks.arguments(args);
        String where = service + " command";
        if (job == Jobs.CONTEXT_INFERENCE) {
            expect(command.get(0), stack.get("JOB_NAME"), where + " (job name)", problems);
            expect(given, "topic.events", stack.get("TOPIC_EVENTS"), where, problems);
            expect(given, "topic.predictions", stack.get("TOPIC_PREDICTIONS"), where, problems);
            expect(given, "topic.dead-letters", stack.get("TOPIC_DEAD_LETTERS"), where, problems);
            expect(given, "delivery", stack.get("DELIVERY"), where, problems);
            expect(given, "checkpoint.interval", stack.get("CHECKPOINT_INTERVAL"), where, problems);
            expect(given, "model.uri", stack.get("MODEL_URI"), where, problems);
        } else if (job == Jobs.KPIS) {
            // The window is not compared: the local stack's is 1 min so KPIs show within minutes, others run 1 h.
            expect(command.get(0), stack.get("KPI_NAME"), where + " (job name)", problems);
            expect(given, "topic.events", stack.get("TOPIC_EVENTS"), where, problems);
            expect(given, "topic.kpis", stack.get("TOPIC_KPIS"), where, problems);
        } else if (job == Jobs.OPS) {
            expect(command.get(0), stack.get("OPS_NAME"), where + " (job name)", problems);
            expect(given, "topic.events", stack.get("TOPIC_EVENTS"), where, problems);
            expect(given, "topic.predictions", stack.get("TOPIC_PREDICTIONS"), where, problems);
            expect(given, "topic.dead-letters", stack.get("TOPIC_DEAD_LETTERS"), where, problems);
            expect(given, "topic.alerts", stack.get("TOPIC_ALERTS"), where, problems);
            expect(given, "delivery", stack.get("DELIVERY"), where, problems);
            expect(given, "checkpoint.interval", stack.get("CHECKPOINT_INTERVAL"), where, problems);
            // the limits, too: the compose stack's simulated users are the local stack's
            expect(given, "detectors.limits", stack.get("OPS_LIMITS"), where, problems);
        } else {
            expect(command.get(0), stack.get("GENERATOR_NAME"), where + " (job name)", problems);
            expect(given, "topic.events", stack.get("TOPIC_EVENTS"), where, problems);
            expect(given, "rate", stack.get("EVENT_RATE"), where, problems);
            expect(given, "users", stack.get("EVENT_USERS"), where, problems);
        }
    }

    private void checkTopicsAndBuckets(ObjectNode compose, List<String> problems) {
        Map<String, String> partitions = new LinkedHashMap<>();
        Matcher topics = TOPIC.matcher(String.join("\n", texts(compose.at("/services/kafka-init/command"))));
        while (topics.find()) {
            partitions.put(topics.group(1), topics.group(2));
        }
        String where = "kafka-init command";
        expect(partitions, stack.get("TOPIC_EVENTS"), stack.get("TOPIC_EVENTS_PARTITIONS"), where, problems);
        expect(partitions, stack.get("TOPIC_PREDICTIONS"), stack.get("TOPIC_PREDICTIONS_PARTITIONS"), where, problems);
        for (String topic : List.of("TOPIC_DEAD_LETTERS", "TOPIC_PROFILES", "TOPIC_MODEL_UPDATES", "TOPIC_MODEL_EVENTS",
                "TOPIC_KPIS", "TOPIC_ALERTS")) {
            if (!partitions.containsKey(stack.get(topic))) {
                problems.add(where + ": creates no topic " + stack.get(topic));
            }
        }
        Matcher buckets = BUCKETS.matcher(String.join("\n", texts(compose.at("/services/minio-init/command"))));
        Set<String> created = buckets.find() ? Set.of(buckets.group(1).trim().replaceAll("\\S+/", "").split("\\s+"))
                : Set.of();
        for (String bucket : List.of(stack.get("S3_BUCKET_FLINK"), stack.get("S3_BUCKET_MODELS"))) {
            if (!created.contains(bucket)) {
                problems.add("minio-init command: creates no bucket " + bucket + " (deploy/local/stack.env)");
            }
        }
    }

    /** ${VARIABLE:-default}, where stack.env has the same variable with the same default. */
    private boolean devDefault(String value) {
        Matcher overridable = OVERRIDABLE.matcher(value);
        return overridable.matches() && overridable.group(2).equals(stack.get(overridable.group(1)));
    }

    private static List<String> texts(JsonNode node) {
        List<String> texts = new ArrayList<>();
        if (node.isArray()) {
            node.forEach(n -> texts.add(n.asText()));
        } else if (!node.isMissingNode()) {
            texts.add(node.asText());
        }
        return texts;
    }

    private static void expect(Map<String, String> values, String key, String expected, String where,
                               List<String> problems) {
        if (!expected.equals(values.get(key))) {
            problems.add(where + ": " + key + " is '" + values.get(key) + "', the local stack's (deploy/local/stack.env) "
                    + "is '" + expected + "'");
        }
    }

    private static void expect(String actual, String expected, String where, List<String> problems) {
        if (!expected.equals(actual)) {
            problems.add(where + ": '" + actual + "', the local stack's (deploy/local/stack.env) is '" + expected + "'");
        }
    }
}
