package dev.flinkai.deploy;

import dev.flinkai.jobs.OpsSettings;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Element;
import org.w3c.dom.Node;

import javax.xml.parsers.DocumentBuilderFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The three ways to run the suite cannot drift apart: the image (deploy/Dockerfile), docker-compose, Kubernetes and
 * the local stack's own Maven files run the root pom's versions, and docker-compose runs the local stack's settings
 * (deploy/local/stack.env) with arguments the jobs accept. There is no Docker engine here: compose is checked by
 * parsing it ({@link ComposeChecks}).
 */
class DeploymentsInStepTest {

    /** Versions every deployment shares with the root pom (the local broker's slf4j 2 differs by design). */
    private static final Set<String> SHARED_VERSIONS = Set.of("flink.version", "kafka.version", "djl.version",
            "pytorch.native.version", "log4j.version");

    private static ComposeChecks compose;
    private static List<ObjectNode> dev;

    @BeforeAll
    static void render() {
        dev = Kustomize.render(Build.file("deploy/k8s/overlays/dev"));
        Map<String, String> kubernetesImages = new LinkedHashMap<>();
        for (ObjectNode resource : dev) {
            resource.findValues("image").forEach(image -> {
                String name = image.asText();
                kubernetesImages.put(name.substring(0, name.lastIndexOf(':')), name);
            });
        }
        compose = new ComposeChecks(FlinkOptions.load(Build.file("deploy/k8s/crds/operator-config-keys.tsv")),
                StackEnv.defaults(Build.file("deploy/local/stack.env")), kubernetesImages, Build.file("deploy"));
    }

    @Test
    void theImageIsBuiltFromThePomsVersions() {
        Dockerfile dockerfile = Dockerfile.read(Build.file("deploy/Dockerfile"));

        assertThat(dockerfile.args()).containsEntry("FLINK_VERSION", Build.flinkVersion())
                .containsEntry("DJL_VERSION", Build.djlVersion())
                .containsEntry("PYTORCH_NATIVE_VERSION", Build.pytorchNativeVersion());
        assertThat(dockerfile.resolved(dockerfile.baseImages().get(dockerfile.baseImages().size() - 1)))
                .as("the final base image").isEqualTo("flink:" + Build.flinkVersion() + "-java17");
        assertThat(dockerfile.jobJar()).startsWith("/opt/flink/usrlib/");
    }

    @Test
    void everyMavenFileOfTheDeploymentsUsesThePomsVersions() throws Exception {
        Map<String, String> root = pomProperties(Build.file("pom.xml"));
        List<Path> poms = new ArrayList<>(List.of(Build.file("deploy/djl-pom.xml")));
        try (var local = Files.list(Build.file("deploy/local"))) {
            local.filter(p -> p.getFileName().toString().endsWith("-pom.xml")).forEach(poms::add);
        }
        for (Path pom : poms) {
            pomProperties(pom).forEach((name, version) -> {
                if (SHARED_VERSIONS.contains(name)) {
                    assertThat(version).as(Build.repo().relativize(pom) + " " + name).isEqualTo(root.get(name));
                }
            });
        }
        Matcher plugin = Pattern.compile("org\\.apache\\.flink:flink-s3-fs-hadoop:(\\S+)")
                .matcher(Files.readString(Build.file("deploy/local/up.sh")));
        assertThat(plugin.find()).as("deploy/local/up.sh fetches the S3 plugin").isTrue();
        assertThat(plugin.group(1)).as("the S3 plugin of deploy/local/up.sh").isEqualTo(Build.flinkVersion());
    }

    @Test
    void kubernetesRunsThePomsKafkaAndPinnedImages() {
        for (String overlay : List.of("dev", "prod")) {
            for (ObjectNode resource : Kustomize.render(Build.file("deploy/k8s/overlays/" + overlay))) {
                if (DeploymentChecks.kind(resource).equals("Kafka")) {
                    assertThat(Yaml.text(resource, "spec.kafka.version")).as(overlay + " Kafka version")
                            .isEqualTo(Build.kafkaVersion());
                }
                resource.findValues("image").forEach(image -> assertThat(image.asText())
                        .as(overlay + " " + DeploymentChecks.id(resource) + " image").matches(".+:[^/:]+")
                        .doesNotEndWith(":latest"));
            }
        }
    }

    /** The dev overlay is the local stack on Kubernetes: same topics, model and buckets. */
    @Test
    void kubernetesDevRunsTheLocalStacksTopicsModelAndBuckets() {
        Map<String, String> stack = StackEnv.defaults(Build.file("deploy/local/stack.env"));
        JsonNode main = find(dev, "FlinkDeployment/context-inference");
        Map<String, String> given = arguments(main);

        assertThat(given).containsEntry("topic.events", stack.get("TOPIC_EVENTS"))
                .containsEntry("topic.predictions", stack.get("TOPIC_PREDICTIONS"))
                .containsEntry("topic.dead-letters", stack.get("TOPIC_DEAD_LETTERS"))
                .containsEntry("delivery", stack.get("DELIVERY"))
                .containsEntry("checkpoint.interval", stack.get("CHECKPOINT_INTERVAL"))
                .containsEntry("model.uri", stack.get("MODEL_URI"));
        assertThat(find(dev, "KafkaTopic/" + stack.get("TOPIC_EVENTS")).at("/spec/partitions").asText())
                .isEqualTo(stack.get("TOPIC_EVENTS_PARTITIONS"));
        assertThat(DeploymentChecks.flinkConfiguration(main))
                .containsEntry("execution.checkpointing.dir", stack.get("CHECKPOINT_DIR"))
                .containsEntry("execution.checkpointing.savepoint-dir", stack.get("SAVEPOINT_DIR"));
        assertThat(find(dev, "Job/minio-buckets").at("/spec/template/spec/containers/0/args/0").asText())
                .as("the bucket job's script").contains("store/" + stack.get("S3_BUCKET_FLINK"))
                .contains("store/" + stack.get("S3_BUCKET_MODELS") + "/" + stack.get("MODEL_PREFIX"));
    }

    /**
     * The ops job's limits: in dev, whose simulated users are the local stack's, the local stack's (above what the
     * simulation does when nothing is wrong); in prod the platform's targets, which are the job's defaults.
     */
    @Test
    void theOpsJobAlertsAtTheLocalStacksLimitsInDevAndAtThePlatformsTargetsInProd() {
        Map<String, String> stack = StackEnv.defaults(Build.file("deploy/local/stack.env"));
        Map<String, String> devArgs = arguments(find(dev, "FlinkDeployment/ops"));
        Map<String, String> prodArgs = arguments(find(Kustomize.render(Build.file("deploy/k8s/overlays/prod")),
                "FlinkDeployment/ops"));

        assertThat(devArgs).containsEntry("topic.events", stack.get("TOPIC_EVENTS"))
                .containsEntry("topic.predictions", stack.get("TOPIC_PREDICTIONS"))
                .containsEntry("topic.dead-letters", stack.get("TOPIC_DEAD_LETTERS"))
                .containsEntry("topic.alerts", stack.get("TOPIC_ALERTS"))
                .containsEntry("delivery", stack.get("DELIVERY"))
                .containsEntry("checkpoint.interval", stack.get("CHECKPOINT_INTERVAL"))
                .containsEntry("detectors.limits", stack.get("OPS_LIMITS"));
        assertThat(prodArgs).containsEntry("detectors.limits", OpsSettings.LIMITS.defaultValue());
    }

    @Test
    void dockerComposePassesEveryCheck() {
        assertThat(compose.check(composeFile())).as("problems of deploy/docker-compose.yml").isEmpty();
    }

    @Test
    void composeWithAMovingOrForeignImageIsRefused() {
        assertThat(check(c -> service(c, "kafka").put("image", "apache/kafka:latest")))
                .anySatisfy(p -> assertThat(p).startsWith("kafka image: 'apache/kafka:latest' names no version"));
        assertThat(check(c -> service(c, "kafka-init").put("image", "apache/kafka:3.9.0")))
                .anySatisfy(p -> assertThat(p).startsWith("kafka-init image").contains("kafka.version"));
        assertThat(check(c -> service(c, "taskmanager").put("image", "flink:2.3.0-java17")))
                .anySatisfy(p -> assertThat(p).startsWith("taskmanager image"));
        assertThat(check(c -> service(c, "minio").put("image", "quay.io/minio/minio:RELEASE.2024-01-01T00-00-00Z")))
                .anySatisfy(p -> assertThat(p).startsWith("minio image").contains("deploy/k8s runs"));
    }

    @Test
    void composeWithACredentialInPlainTextIsRefused() {
        assertThat(check(c -> ((ObjectNode) service(c, "minio").get("environment"))
                .put("MINIO_ROOT_PASSWORD", "hunter2")))
                .anySatisfy(p -> assertThat(p).startsWith("minio environment.MINIO_ROOT_PASSWORD"));
        assertThat(check(c -> {
            ObjectNode env = (ObjectNode) service(c, "jobmanager").get("environment");
            env.put("FLINK_PROPERTIES", env.get("FLINK_PROPERTIES").asText() + "s3.secret-key: minioadmin\n");
        })).anySatisfy(p -> assertThat(p).startsWith("jobmanager environment.FLINK_PROPERTIES.s3.secret-key"));
    }

    @Test
    void composeJobArgumentsTheJobRefusesOrTheLocalStackLacksAreRefused() {
        assertThat(check(c -> ((ArrayNode) service(c, "submit-context-inference").get("command"))
                .add("--state.cached-user").add("100")))
                .anySatisfy(p -> assertThat(p).startsWith("submit-context-inference command: refused by")
                        .contains("--state.cached-user"));
        assertThat(check(c -> ((ArrayNode) service(c, "submit-event-generator").get("command"))
                .set(7, TextNode.valueOf("500"))))
                .anySatisfy(p -> assertThat(p).startsWith("submit-event-generator command: rate is '500'"));
        assertThat(check(c -> {
            ArrayNode command = (ArrayNode) service(c, "submit-ops").get("command");
            command.set(command.size() - 1, TextNode.valueOf(OpsSettings.LIMITS.defaultValue()));
        })).anySatisfy(p -> assertThat(p).startsWith("submit-ops command: detectors.limits is 'latencyP99=1000,"));
        assertThat(check(c -> ((ObjectNode) service(c, "minio-init")).put("command", "mc mb local/flink")))
                .anySatisfy(p -> assertThat(p).startsWith("minio-init command: creates no bucket models"));
    }

    @Test
    void composeWithoutHighAvailabilityIsRefused() {
        assertThat(check(c -> {
            ObjectNode env = (ObjectNode) service(c, "jobmanager").get("environment");
            env.put("FLINK_PROPERTIES", env.get("FLINK_PROPERTIES").asText()
                    .replace("high-availability.type: zookeeper", "high-availability.type: none"));
        })).anySatisfy(p -> assertThat(p).startsWith("jobmanager environment.FLINK_PROPERTIES")
                .contains("high-availability.type"));
        assertThat(check(c -> ((ObjectNode) c.get("services")).remove("zookeeper")))
                .anySatisfy(p -> assertThat(p).contains("'zookeeper:2181' is not a service of this file"));
        assertThat(check(c -> {
            ObjectNode env = (ObjectNode) service(c, "taskmanager").get("environment");
            env.put("FLINK_PROPERTIES", env.get("FLINK_PROPERTIES").asText()
                    .replace("s3://flink/ha", "file:///tmp/ha"));
        })).anySatisfy(p -> assertThat(p).startsWith("taskmanager environment.FLINK_PROPERTIES.high-availability.storageDir"));
    }

    @Test
    void composeMountingAFileThatIsNotThereIsRefused() {
        assertThat(check(c -> ((ArrayNode) service(c, "grafana").get("volumes"))
                .set(1, TextNode.valueOf("./grafana/dashbords:/var/lib/grafana/dashboards:ro"))))
                .anySatisfy(p -> assertThat(p).startsWith("grafana volumes: './grafana/dashbords' does not exist"));
        assertThat(check(c -> ((ArrayNode) service(c, "prometheus").get("volumes"))
                .add("./prometheus/alerts:/etc/prometheus/alerts:ro")))
                .anySatisfy(p -> assertThat(p).startsWith("prometheus volumes: './prometheus/alerts' does not exist"));
    }

    private static List<String> check(Consumer<ObjectNode> change) {
        ObjectNode changed = composeFile();
        change.accept(changed);
        return compose.check(changed);
    }

    private static ObjectNode composeFile() {
        return Yaml.document(Build.file("deploy/docker-compose.yml"));
    }

    private static ObjectNode service(ObjectNode compose, String name) {
        return (ObjectNode) compose.at("/services/" + name);
    }

    private static JsonNode find(List<ObjectNode> resources, String id) {
        return resources.stream().filter(r -> DeploymentChecks.id(r).equals(id)).findFirst()
                .orElseThrow(() -> new AssertionError("no " + id + " in the rendered overlay"));
    }

    private static Map<String, String> arguments(JsonNode deployment) {
        List<String> args = new ArrayList<>();
        deployment.at("/spec/job/args").forEach(a -> args.add(a.asText()));
        return DeploymentChecks.arguments(args);
    }

    private static Map<String, String> pomProperties(Path pom) throws Exception {
        Map<String, String> properties = new LinkedHashMap<>();
        var document = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(pom.toFile());
        var sections = document.getDocumentElement().getElementsByTagName("properties");
        for (int s = 0; s < sections.getLength(); s++) {
            if (sections.item(s).getParentNode() != document.getDocumentElement()) {
                continue;
            }
            for (Node child = sections.item(s).getFirstChild(); child != null; child = child.getNextSibling()) {
                if (child instanceof Element element) {
                    properties.put(element.getTagName(), element.getTextContent().trim());
                }
            }
        }
        return properties;
    }
}
