package dev.flinkai.deploy;

import dev.flinkai.jobs.PipelineOperator;
import dev.flinkai.jobs.kafka.KafkaAccess;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * What the API server's schema validation does not catch in a rendered overlay, each problem naming the resource and
 * the field: checkpoints, savepoints and HA metadata on S3, HA on, stateful jobs upgraded through savepoints with a
 * fixed max parallelism and stable operator uids, the image of this build, resource requests, job arguments the job
 * itself accepts with the environment its pods get, no secret in the manifests, and the wiring between the jobs,
 * Kafka (topics, users, listener) and the Secrets.
 */
final class DeploymentChecks {

    /** Secrets created by hand before the first apply (deploy/k8s/README.md), never committed. */
    static final Set<String> PRE_CREATED_SECRETS = Set.of("s3-credentials");
    /** Keys of the S3 locations Flink keeps state in. */
    static final List<String> S3_DIRECTORIES = List.of("execution.checkpointing.dir",
            "execution.checkpointing.savepoint-dir", "high-availability.storageDir");
    /** Job arguments that would put a credential into the job's configuration. */
    private static final Set<String> SECRET_ARGUMENTS = Set.of("--kafka.sasl.password", "--s3.secret-key",
            "--s3.access-key");
    private static final String MAIN_CONTAINER = "flink-main-container";

    private final CrdSchemas crds;
    private final FlinkOptions options;
    private final Dockerfile image;

    DeploymentChecks(CrdSchemas crds, FlinkOptions options, Dockerfile image) {
        this.crds = crds;
        this.options = options;
        this.image = image;
    }

    List<String> check(List<ObjectNode> resources) {
        List<String> problems = new ArrayList<>();
        for (ObjectNode resource : resources) {
            if (crds.covers(resource)) {
                crds.validate(resource).forEach(p -> problems.add(id(resource) + " " + p));
            }
            switch (kind(resource)) {
                case "FlinkDeployment" -> new Deployment(resource, resources, problems).check();
                case "KafkaTopic" -> checkReplicas(resource, resources, problems);
                case "Secret" -> {
                    if (resource.has("data") || resource.has("stringData")) {
                        problems.add(id(resource) + " data: a Secret with its values in the manifests; create it "
                                + "beforehand instead (deploy/k8s/README.md)");
                    }
                }
                default -> { }
            }
        }
        return problems;
    }

    /**
     * A topic's replicas fit on the brokers of its Kafka (or Strimzi cannot create it, and every job that uses it
     * waits), and its writers' acks=all can be met (min.insync.replicas at most the replicas).
     */
    private static void checkReplicas(ObjectNode topic, List<ObjectNode> all, List<String> problems) {
        String cluster = topic.at("/metadata/labels").path("strimzi.io/cluster").asText();
        int brokers = all.stream().filter(r -> kind(r).equals("KafkaNodePool"))
                .filter(r -> cluster.equals(r.at("/metadata/labels").path("strimzi.io/cluster").asText()))
                .filter(r -> containsText(r.at("/spec/roles"), "broker"))
                .mapToInt(r -> r.at("/spec/replicas").asInt()).sum();
        int replicas = topic.at("/spec/replicas").asInt();
        if (replicas > brokers) {
            problems.add(id(topic) + " spec.replicas: " + replicas + " replicas, but Kafka " + cluster + " has "
                    + brokers + " broker(s)");
        }
        JsonNode minInsync = topic.at("/spec/config/min.insync.replicas");
        if (!minInsync.isMissingNode() && minInsync.asInt() > replicas) {
            problems.add(id(topic) + " spec.config.min.insync.replicas: " + minInsync.asText() + " is more than its "
                    + replicas + " replicas: no write with acks=all (every job's) would succeed");
        }
    }

    private static boolean containsText(JsonNode array, String text) {
        for (JsonNode element : array) {
            if (text.equals(element.asText())) {
                return true;
            }
        }
        return false;
    }

    /** The checks of one FlinkDeployment. */
    private final class Deployment {
        private final ObjectNode resource;
        private final List<ObjectNode> all;
        private final List<String> problems;
        private final String id;
        private final Map<String, String> conf;

        Deployment(ObjectNode resource, List<ObjectNode> all, List<String> problems) {
            this.resource = resource;
            this.all = all;
            this.problems = problems;
            this.id = id(resource);
            this.conf = flinkConfiguration(resource);
        }

        void check() {
            options.check(conf, "spec.flinkConfiguration").forEach(this::problem);
            checkImage();
            for (String key : S3_DIRECTORIES) {
                String dir = conf.get(key);
                if (dir == null || dir.isBlank()) {
                    problem("spec.flinkConfiguration." + key + ": missing; checkpoints, savepoints and HA metadata "
                            + "must be on S3 (s3://...)");
                } else if (!dir.startsWith("s3://")) {
                    problem("spec.flinkConfiguration." + key + ": '" + dir + "' is not on S3 (s3://...): pods and "
                            + "their disks come and go");
                }
            }
            if (!"kubernetes".equals(conf.get("high-availability.type"))) {
                problem("spec.flinkConfiguration.high-availability.type: '" + conf.get("high-availability.type")
                        + "', not kubernetes: without HA a lost JobManager loses the job");
            }
            checkMetrics();
            checkResources("jobManager");
            checkResources("taskManager");
            checkServiceAccount();
            Map<String, String> environment = podEnvironment();
            checkSecretsExist();
            checkJob(environment);
        }

        private void checkImage() {
            String imageName = Yaml.text(resource, "spec.image");
            if (imageName == null) {
                problem("spec.image: not set");
                return;
            }
            int slash = imageName.lastIndexOf('/');
            int colon = imageName.lastIndexOf(':');
            String tag = colon > slash ? imageName.substring(colon + 1) : null;
            if (tag == null || tag.equals("latest")) {
                problem("spec.image: '" + imageName + "' names no version; a moving tag changes the job under the "
                        + "operator's feet. Tag it with the project version " + Build.projectVersion());
            } else if (!tag.equals(Build.projectVersion())) {
                problem("spec.image: tag '" + tag + "' is not the project version " + Build.projectVersion()
                        + " (root pom)");
            }
            if (!Build.operatorFlinkVersion().equals(Yaml.text(resource, "spec.flinkVersion"))) {
                problem("spec.flinkVersion: '" + Yaml.text(resource, "spec.flinkVersion") + "', but the image runs Flink "
                        + Build.flinkVersion() + " (" + Build.operatorFlinkVersion() + ")");
            }
        }

        /** A Prometheus endpoint on every pod, and something that scrapes it: a PodMonitor or the annotations. */
        private void checkMetrics() {
            boolean reporter = conf.entrySet().stream().anyMatch(e -> e.getKey().startsWith("metrics.reporter.")
                    && e.getKey().endsWith(".factory.class") && e.getValue().contains("PrometheusReporterFactory"));
            if (!reporter) {
                problem("spec.flinkConfiguration.metrics.reporter.<name>.factory.class: no Prometheus reporter");
            }
            boolean annotated = "true".equals(resource.at("/spec/podTemplate/metadata/annotations")
                    .path("prometheus.io/scrape").asText());
            boolean podMonitor = all.stream().anyMatch(r -> kind(r).equals("PodMonitor"));
            if (!annotated && !podMonitor) {
                problem("spec.podTemplate.metadata.annotations: no prometheus.io/scrape and no PodMonitor here: "
                        + "nothing scrapes the reporter");
            }
        }

        private void checkResources(String part) {
            for (String resourceName : List.of("cpu", "memory")) {
                String path = "spec." + part + ".resources.requests." + resourceName;
                if (Yaml.text(resource, path) == null) {
                    problem(path + ": not set; the scheduler and Flink's memory model need the requests");
                }
            }
        }

        private void checkServiceAccount() {
            String account = Yaml.text(resource, "spec.serviceAccount");
            boolean exists = all.stream().anyMatch(r -> kind(r).equals("ServiceAccount") && name(r).equals(account));
            boolean bound = all.stream().anyMatch(r -> kind(r).equals("RoleBinding")
                    && r.path("subjects").findValuesAsText("name").contains(account));
            if (account == null || !exists || !bound) {
                problem("spec.serviceAccount: '" + account + "' is no ServiceAccount with a RoleBinding here: the "
                        + "JobManager creates TaskManager pods and HA ConfigMaps with it");
            }
        }

        /** The variables the pods get from the configuration's kubernetes.env.secretKeyRef and the pod template. */
        private Map<String, String> podEnvironment() {
            Map<String, String> environment = new LinkedHashMap<>();
            secretKeyRefs().forEach((env, secret) -> environment.put(env, "<from Secret " + secret + ">"));
            for (JsonNode container : resource.at("/spec/podTemplate/spec/containers")) {
                if (MAIN_CONTAINER.equals(container.path("name").asText())) {
                    for (JsonNode env : container.path("env")) {
                        JsonNode ref = env.at("/valueFrom/secretKeyRef");
                        environment.put(env.path("name").asText(), ref.isMissingNode()
                                ? env.path("value").asText() : "<from Secret " + ref.path("name").asText() + ">");
                    }
                }
            }
            return environment;
        }

        /** kubernetes.env.secretKeyRef as variable -> Secret name. */
        private Map<String, String> secretKeyRefs() {
            Map<String, String> refs = new LinkedHashMap<>();
            String value = conf.get("kubernetes.env.secretKeyRef");
            if (value != null) {
                for (String entry : value.split(";")) {
                    Map<String, String> fields = Arrays.stream(entry.split(",")).map(f -> f.split(":", 2))
                            .filter(f -> f.length == 2).collect(Collectors.toMap(f -> f[0].trim(), f -> f[1].trim()));
                    refs.put(fields.get("env"), fields.get("secret"));
                }
            }
            return refs;
        }

        private void checkSecretsExist() {
            Map<String, String> referenced = new LinkedHashMap<>();
            secretKeyRefs().values()
                    .forEach(s -> referenced.put(s, "spec.flinkConfiguration.kubernetes.env.secretKeyRef"));
            String mounted = conf.get("kubernetes.secrets");
            if (mounted != null) {
                for (String mount : mounted.split(",")) {
                    referenced.put(mount.split(":")[0].trim(), "spec.flinkConfiguration.kubernetes.secrets");
                }
            }
            referenced.forEach((secret, where) -> {
                if (!PRE_CREATED_SECRETS.contains(secret) && !madeByStrimzi(secret)) {
                    problem(where + ": Secret '" + secret + "' is neither made here (by a KafkaUser or the Kafka "
                            + "cluster's CA) nor one of the documented pre-created Secrets " + PRE_CREATED_SECRETS);
                }
            });
        }

        private boolean madeByStrimzi(String secret) {
            return all.stream().anyMatch(r -> (kind(r).equals("KafkaUser") && name(r).equals(secret))
                    || (kind(r).equals("Kafka") && (name(r) + "-cluster-ca-cert").equals(secret)));
        }

        private void checkJob(Map<String, String> environment) {
            String entryClass = Yaml.text(resource, "spec.job.entryClass");
            Jobs job = Jobs.byEntryClass(entryClass).orElse(null);
            if (job == null) {
                problem("spec.job.entryClass: '" + entryClass + "' is none of the project's jobs "
                        + Arrays.stream(Jobs.values()).map(j -> j.entryClass).toList());
                return;
            }
            String jar = "local://" + image.jobJar();
            if (!jar.equals(Yaml.text(resource, "spec.job.jarURI"))) {
                problem("spec.job.jarURI: '" + Yaml.text(resource, "spec.job.jarURI") + "', but deploy/Dockerfile puts "
                        + "the job jar at " + jar);
            }
            List<String> args = new ArrayList<>();
            resource.at("/spec/job/args").forEach(a -> args.add(a.asText()));
            args.stream().filter(SECRET_ARGUMENTS::contains).forEach(a -> problem("spec.job.args: " + a
                    + " puts a credential into the job's configuration; the job reads it from the environment"));
            String[] argv = args.toArray(String[]::new);
            try {
                job.checkSettings(argv, Configuration.fromMap(conf), environment);
            } catch (IllegalArgumentException e) {
                problem("spec.job.args: refused by " + entryClass + ": " + e.getMessage());
                return;
            }
            Map<String, String> given = arguments(args);
            checkKafka(job, given, environment);
            if (job.stateful) {
                checkStateful(job, argv, given, environment);
            }
        }

        private void checkStateful(Jobs job, String[] argv, Map<String, String> given, Map<String, String> environment) {
            String upgradeMode = Yaml.text(resource, "spec.job.upgradeMode");
            if (!"savepoint".equals(upgradeMode)) {
                problem("spec.job.upgradeMode: '" + upgradeMode + "' for a job with state; only savepoint carries "
                        + "its state through every upgrade and rescale");
            }
            if (!"rocksdb".equals(conf.get("state.backend.type"))) {
                problem("spec.flinkConfiguration.state.backend.type: '" + conf.get("state.backend.type")
                        + "', not rocksdb: the users' contexts do not fit on the heap");
            }
            if (!"true".equals(conf.get("execution.checkpointing.incremental"))) {
                problem("spec.flinkConfiguration.execution.checkpointing.incremental: not true; full checkpoints "
                        + "of every user's context take minutes at prod size");
            }
            if (job == Jobs.OPS) {
                for (Jobs.Operator operator : Jobs.opsJobStatefulOperators(argv, Configuration.fromMap(conf),
                        environment)) {
                    checkOpsUid(operator.uid(), operator.name()).ifPresent(this::problem);
                }
            }
            if (job != Jobs.CONTEXT_INFERENCE) {
                return; // what follows is the main job's: it scales with the autoscaler, and its uids are set by hand
            }
            if (!"true".equals(conf.get("job.autoscaler.enabled"))) {
                problem("spec.flinkConfiguration.job.autoscaler.enabled: not true; the main job scales with the "
                        + "operator's autoscaler");
            }
            int maxParallelism = integer(conf.get("pipeline.max-parallelism"));
            int highest = Math.max(integer(Yaml.text(resource, "spec.job.parallelism")),
                    integer(conf.get("job.autoscaler.vertex.max-parallelism")));
            if (maxParallelism <= 0) {
                problem("spec.flinkConfiguration.pipeline.max-parallelism: not set; the key groups of the state are "
                        + "fixed for its life and must not depend on the first parallelism");
            } else if (maxParallelism < highest) {
                problem("spec.flinkConfiguration.pipeline.max-parallelism: " + maxParallelism + " is below the "
                        + "parallelism the job may get (" + highest + ")");
            }
            String events = given.getOrDefault("topic.events", "user-events");
            JsonNode topic = kafkaTopic(events);
            if (topic != null && topic.at("/spec/partitions").asInt() < highest) {
                problems.add(id(topic) + " spec.partitions: " + topic.at("/spec/partitions").asInt() + " partitions "
                        + "of " + events + " are fewer than the " + highest + " source subtasks " + id
                        + " may get (spec.job.parallelism, job.autoscaler.vertex.max-parallelism)");
            }
            for (Jobs.Operator operator : Jobs.mainJobOperators(argv, Configuration.fromMap(conf), environment)) {
                checkUid(operator.uid(), operator.name()).ifPresent(this::problem);
            }
        }

        private void checkKafka(Jobs job, Map<String, String> given, Map<String, String> environment) {
            List<String> reads = topics(job.reads, given);
            List<String> writes = topics(job.writes, given);
            List<ConfigOption<String>> topicOptions = new ArrayList<>(job.reads);
            topicOptions.addAll(job.writes);
            for (ConfigOption<String> topicOption : topicOptions) {
                String topic = given.getOrDefault(topicOption.key(), topicOption.defaultValue());
                if (!topic.isBlank() && kafkaTopic(topic) == null) {
                    problem("spec.job.args: --" + topicOption.key() + " '" + topic + "' is no KafkaTopic here");
                }
            }
            String user = given.get(KafkaAccess.SASL_USERNAME.key());
            if (user != null) {
                ObjectNode kafkaUser = all.stream().filter(r -> kind(r).equals("KafkaUser") && name(r).equals(user))
                        .findFirst().orElse(null);
                String passwordSecret = secretKeyRefs().get(KafkaAccess.PASSWORD_ENV);
                if (kafkaUser == null) {
                    problem("spec.job.args: --kafka.sasl.username '" + user + "' is no KafkaUser here");
                } else {
                    if (!user.equals(passwordSecret)) {
                        problem("spec.flinkConfiguration.kubernetes.env.secretKeyRef: " + KafkaAccess.PASSWORD_ENV
                                + " comes from Secret '" + passwordSecret + "', not from KafkaUser " + user + "'s");
                    }
                    checkAcls(job, kafkaUser, reads, writes, given);
                }
            }
            String bootstrap = given.get("kafka.bootstrap-servers");
            if (bootstrap != null) {
                checkListener(bootstrap, given);
            }
        }

        /**
         * The job's KafkaUser may do what the job does (the broker refuses the rest, and the job fails at start or,
         * for a transaction, at its first checkpoint): read its inputs in its consumer group, write its outputs, and
         * when exactly-once, use the transactional ids named after the group.
         */
        private void checkAcls(Jobs job, ObjectNode kafkaUser, List<String> reads, List<String> writes,
                               Map<String, String> given) {
            String where = id(kafkaUser) + " spec.authorization.acls: ";
            String asJob = " (" + id + ")";
            reads.stream().filter(t -> !Acls.of(kafkaUser).allow("topic", t, "Read"))
                    .forEach(t -> problems.add(where + "no Read on topic " + t + asJob));
            writes.stream().filter(t -> !Acls.of(kafkaUser).allow("topic", t, "Write"))
                    .forEach(t -> problems.add(where + "no Write on topic " + t + asJob));
            if (job.groupId == null || reads.isEmpty()) {
                return;
            }
            String group = given.getOrDefault(job.groupId.key(), job.groupId.defaultValue());
            if (!Acls.of(kafkaUser).allow("group", group, "Read")) {
                problems.add(where + "no Read on group " + group + asJob);
            }
            if (job.transactional(given) && !Acls.of(kafkaUser).allowPrefix("transactionalId", group + "-", "Write")) {
                problems.add(where + "no Write on the transactionalIds " + group + "-... of its exactly-once "
                        + "sinks (a prefix ACL)" + asJob);
            }
        }

        /** The bootstrap address is a listener of a Kafka here, spoken to the way that listener expects. */
        private void checkListener(String bootstrap, Map<String, String> given) {
            String[] hostPort = bootstrap.split(",")[0].split(":");
            for (ObjectNode kafka : all) {
                if (!kind(kafka).equals("Kafka") || !hostPort[0].equals(name(kafka) + "-kafka-bootstrap")) {
                    continue;
                }
                for (JsonNode listener : kafka.at("/spec/kafka/listeners")) {
                    if (hostPort.length > 1 && listener.path("port").asText().equals(hostPort[1])) {
                        String protocol = (listener.path("tls").asBoolean() ? "SSL" : "PLAINTEXT");
                        if (listener.at("/authentication/type").asText().startsWith("scram")) {
                            protocol = "SASL_" + (protocol.equals("SSL") ? "SSL" : "PLAINTEXT");
                        }
                        String used = given.getOrDefault(KafkaAccess.SECURITY_PROTOCOL.key(), "PLAINTEXT");
                        if (!protocol.equals(used)) {
                            problem("spec.job.args: --kafka.security.protocol '" + used + "', but listener '"
                                    + listener.path("name").asText() + "' of Kafka " + name(kafka) + " speaks "
                                    + protocol);
                        }
                        return;
                    }
                }
                problem("spec.job.args: --kafka.bootstrap-servers '" + bootstrap + "' names no listener port of "
                        + "Kafka " + name(kafka));
                return;
            }
            problem("spec.job.args: --kafka.bootstrap-servers '" + bootstrap + "' is not the bootstrap service of a "
                    + "Kafka here (<name>-kafka-bootstrap:<listener port>)");
        }

        private JsonNode kafkaTopic(String topic) {
            return all.stream().filter(r -> kind(r).equals("KafkaTopic"))
                    .filter(r -> topic.equals(r.at("/spec/topicName").asText(name(r)))).findFirst().orElse(null);
        }

        private void problem(String problem) {
            problems.add(id + " " + problem);
        }
    }

    /** The topics these options name in the arguments or by default; blank ones are off. */
    private static List<String> topics(List<ConfigOption<String>> options, Map<String, String> given) {
        return options.stream().map(o -> given.getOrDefault(o.key(), o.defaultValue()))
                .filter(t -> !t.isBlank()).toList();
    }

    /** A KafkaUser's simple-authorization ACLs, matched as Kafka's authorizer matches them (allow rules only). */
    private record Acls(List<JsonNode> rules) {

        static Acls of(JsonNode kafkaUser) {
            List<JsonNode> rules = new ArrayList<>();
            kafkaUser.at("/spec/authorization/acls").forEach(rules::add);
            return new Acls(rules);
        }

        /** Whether {@code operation} on the resource named {@code name} is allowed. */
        boolean allow(String type, String name, String operation) {
            return rules.stream().anyMatch(r -> covers(r, type, operation) && matches(r, name, false));
        }

        /** Whether {@code operation} is allowed on every resource whose name starts with {@code prefix}. */
        boolean allowPrefix(String type, String prefix, String operation) {
            return rules.stream().anyMatch(r -> covers(r, type, operation) && matches(r, prefix, true));
        }

        private static boolean covers(JsonNode rule, String type, String operation) {
            if (!type.equals(rule.at("/resource/type").asText())
                    || "deny".equalsIgnoreCase(rule.path("type").asText("allow"))) {
                return false;
            }
            List<String> operations = new ArrayList<>();
            rule.path("operations").forEach(o -> operations.add(o.asText()));
            if (rule.has("operation")) {
                operations.add(rule.path("operation").asText());
            }
            return operations.contains(operation) || operations.contains("All");
        }

        private static boolean matches(JsonNode rule, String name, boolean everyNameWithPrefix) {
            String aclName = rule.at("/resource/name").asText();
            if (aclName.equals("*")) {
                return true;
            }
            return "prefix".equals(rule.at("/resource/patternType").asText("literal"))
                    ? name.startsWith(aclName) : !everyNameWithPrefix && name.equals(aclName);
        }
    }

    /**
     * Empty when the operator's uid is one of {@link PipelineOperator}'s (or the committer's that Flink derives from a
     * sink's uid), else why not.
     */
    static Optional<String> checkUid(String uid, String operatorName) {
        if (uid == null) {
            return Optional.of("operator '" + operatorName + "' of the main job has no uid: its state "
                    + "would not survive the next change of the pipeline (set it in PipelineOperator)");
        }
        String own = uid.startsWith("Sink Committer: ") ? uid.substring("Sink Committer: ".length()) : uid;
        boolean known = Arrays.stream(PipelineOperator.values()).anyMatch(o -> o.uid.equals(own));
        return known ? Optional.empty() : Optional.of("operator '" + operatorName + "' has uid '"
                + uid + "', which is not one of PipelineOperator's");
    }

    /** Empty when a stateful operator of the ops job has one of its uids ({@link Jobs#OPS_UIDS}), else why not. */
    static Optional<String> checkOpsUid(String uid, String operatorName) {
        if (uid == null) {
            return Optional.of("operator '" + operatorName + "' of the ops job holds state but has no uid: its state "
                    + "would not survive the next change of the pipeline (set one in OpsJob or WindowStatsStage)");
        }
        String own = uid.startsWith("Sink Committer: ") ? uid.substring("Sink Committer: ".length()) : uid;
        return Jobs.OPS_UIDS.contains(own) ? Optional.empty() : Optional.of("operator '" + operatorName
                + "' of the ops job has uid '" + uid + "', which is none of OpsJob's and WindowStatsStage's");
    }

    static Map<String, String> flinkConfiguration(JsonNode resource) {
        Map<String, String> conf = new HashMap<>();
        resource.at("/spec/flinkConfiguration").properties().forEach(e -> conf.put(e.getKey(), e.getValue().asText()));
        return conf;
    }

    /** {@code --key value} arguments as key -> value. */
    static Map<String, String> arguments(List<String> args) {
        Map<String, String> given = new LinkedHashMap<>();
        for (int i = 0; i + 1 < args.size(); i += 2) {
            given.put(args.get(i).replaceFirst("^--", ""), args.get(i + 1));
        }
        return given;
    }

    static String kind(JsonNode resource) {
        return resource.path("kind").asText();
    }

    static String name(JsonNode resource) {
        return resource.at("/metadata/name").asText();
    }

    static String id(JsonNode resource) {
        return kind(resource) + "/" + name(resource);
    }

    private static int integer(String value) {
        try {
            return value == null ? 0 : Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
