package dev.flinkai.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import org.apache.flink.configuration.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import static dev.flinkai.deploy.DeploymentChecks.flinkConfiguration;
import static dev.flinkai.deploy.DeploymentChecks.id;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * deploy/k8s as {@code kubectl apply -k} would send it: each overlay rendered by {@code kubectl kustomize}, every
 * FlinkDeployment validated against the operator's CRD schema (deploy/k8s/crds) and held to {@link DeploymentChecks}.
 * The negative tests break one thing in a rendered copy and expect a failure that names the field.
 */
class KubernetesManifestsTest {

    private static final Map<String, List<ObjectNode>> RENDERED = new HashMap<>();
    private static DeploymentChecks checks;

    @BeforeAll
    static void loadSchemasAndOptions() {
        checks = new DeploymentChecks(CrdSchemas.load(Build.file("deploy/k8s/crds")),
                FlinkOptions.load(Build.file("deploy/k8s/crds/operator-config-keys.tsv")),
                Dockerfile.read(Build.file("deploy/Dockerfile")));
    }

    @ParameterizedTest
    @ValueSource(strings = {"dev", "prod"})
    void eachOverlayRendersAndPassesEveryCheck(String overlay) {
        List<ObjectNode> resources = rendered(overlay);

        assertThat(checks.check(resources)).as("problems of overlays/" + overlay).isEmpty();
        assertThat(resources.stream().filter(r -> id(r).startsWith("FlinkDeployment/"))
                .map(r -> Yaml.text(r, "spec.job.entryClass")))
                .as("one FlinkDeployment per job").containsExactlyInAnyOrderElementsOf(
                        Arrays.stream(Jobs.values()).map(j -> j.entryClass).toList());
    }

    /** dev runs the main job on one TaskManager, whatever the autoscaler decides; prod has room to grow. */
    @Test
    void devFitsOneTaskManagerAndProdHasRoomToScale() {
        JsonNode dev = find(rendered("dev"), "FlinkDeployment/context-inference");
        Map<String, String> devConf = flinkConfiguration(dev);
        int devSlots = Integer.parseInt(devConf.get("taskmanager.numberOfTaskSlots"));
        assertThat(Math.max(dev.at("/spec/job/parallelism").asInt(),
                Integer.parseInt(devConf.get("job.autoscaler.vertex.max-parallelism"))))
                .as("dev: the most subtasks the main job may get, at most one TaskManager's slots")
                .isLessThanOrEqualTo(devSlots);

        JsonNode prod = find(rendered("prod"), "FlinkDeployment/context-inference");
        Map<String, String> prodConf = flinkConfiguration(prod);
        assertThat(prod.at("/spec/jobManager/replicas").asInt()).as("prod: a standby JobManager").isGreaterThan(1);
        assertThat(Integer.parseInt(prodConf.get("job.autoscaler.vertex.max-parallelism")))
                .as("prod: the autoscaler may go beyond the initial parallelism")
                .isGreaterThan(prod.at("/spec/job/parallelism").asInt());
        assertThat(find(rendered("prod"), "KafkaTopic/user-events").at("/spec/replicas").asInt())
                .as("prod: events survive a lost broker").isGreaterThanOrEqualTo(3);
    }

    @Test
    void aMisspeltFieldIsRefusedNamingIt() {
        List<String> problems = checkMainJob(d -> ((ObjectNode) d.at("/spec/job")).put("upgradeModes", "savepoint"));

        assertThat(problems).anySatisfy(p -> assertThat(p)
                .startsWith("FlinkDeployment/context-inference spec.job.upgradeModes: no such field"));
    }

    @Test
    void aWrongValueTypeIsRefusedNamingTheField() {
        List<String> problems = checkMainJob(d -> ((ObjectNode) d.at("/spec/job")).put("parallelism", "two"));

        assertThat(problems).anySatisfy(p -> assertThat(p)
                .startsWith("FlinkDeployment/context-inference spec.job.parallelism: string found, integer expected"));
    }

    @Test
    void aMisspeltFlinkOptionIsRefusedNamingIt() {
        List<String> problems = checkMainJob(d -> flinkConf(d).put("execution.checkpointing.intervall", "10s"));

        assertThat(problems).anySatisfy(p -> assertThat(p)
                .contains("spec.flinkConfiguration.execution.checkpointing.intervall").contains("no such option"));
    }

    @Test
    void aFlinkOptionValueOfTheWrongTypeIsRefused() {
        List<String> problems = checkMainJob(d -> flinkConf(d).put("job.autoscaler.utilization.target", "60%"));

        assertThat(problems).anySatisfy(p -> assertThat(p)
                .contains("spec.flinkConfiguration.job.autoscaler.utilization.target").contains("60%"));
    }

    @Test
    void aMissingSavepointDirectoryIsRefused() {
        List<String> problems = checkMainJob(d -> flinkConf(d).remove("execution.checkpointing.savepoint-dir"));

        assertThat(problems).anySatisfy(p -> assertThat(p)
                .contains("spec.flinkConfiguration.execution.checkpointing.savepoint-dir: missing"));
    }

    @Test
    void checkpointsOffS3AreRefused() {
        List<String> problems = checkMainJob(d -> flinkConf(d).put("execution.checkpointing.dir", "file:///tmp/cp"));

        assertThat(problems).anySatisfy(p -> assertThat(p)
                .contains("spec.flinkConfiguration.execution.checkpointing.dir").contains("not on S3"));
    }

    @Test
    void highAvailabilityOffIsRefused() {
        List<String> problems = checkMainJob(d -> flinkConf(d).remove("high-availability.type"));

        assertThat(problems).anySatisfy(p -> assertThat(p).contains("spec.flinkConfiguration.high-availability.type"));
    }

    @Test
    void statelessUpgradesOfTheMainJobAreRefused() {
        List<String> problems = checkMainJob(d -> ((ObjectNode) d.at("/spec/job")).put("upgradeMode", "stateless"));

        assertThat(problems).anySatisfy(p -> assertThat(p).contains("FlinkDeployment/context-inference")
                .contains("spec.job.upgradeMode: 'stateless'"));
    }

    @Test
    void aMovingImageTagIsRefused() {
        assertThat(checkMainJob(d -> spec(d).put("image", "flink-ai:latest")))
                .anySatisfy(p -> assertThat(p).contains("spec.image: 'flink-ai:latest'"));
        assertThat(checkMainJob(d -> spec(d).put("image", "registry.example.com:5000/flink-ai")))
                .anySatisfy(p -> assertThat(p).contains("spec.image").contains("names no version"));
        assertThat(checkMainJob(d -> spec(d).put("image", "flink-ai:0.0.9")))
                .anySatisfy(p -> assertThat(p).contains("spec.image: tag '0.0.9' is not the project version"));
    }

    @Test
    void anUnknownJobArgumentIsRefusedByTheJobsOwnCheck() {
        List<String> problems = checkMainJob(d -> args(d).add("--inference.max-batch").add("64"));

        assertThat(problems).anySatisfy(p -> assertThat(p).contains("spec.job.args")
                .contains("--inference.max-batch"));
    }

    @Test
    void aBadArgumentValueIsRefusedByTheJobsOwnCheck() {
        List<String> problems = check(rendered("dev"), "FlinkDeployment/event-generator",
                d -> args(d).add("--rate").add("0"));

        assertThat(problems).anySatisfy(p -> assertThat(p).contains("FlinkDeployment/event-generator")
                .contains("spec.job.args").contains("--rate"));
    }

    @Test
    void aPasswordInTheArgumentsIsRefused() {
        List<String> problems = checkMainJob(d -> args(d).add("--kafka.sasl.password").add("secret"));

        assertThat(problems).anySatisfy(p -> assertThat(p).contains("spec.job.args: --kafka.sasl.password"));
    }

    /** Without the Kafka password in the pods' environment the job refuses to start: so does the check. */
    @Test
    void aMissingKafkaPasswordVariableIsRefused() {
        List<String> problems = checkMainJob(d -> flinkConf(d).put("kubernetes.env.secretKeyRef",
                "env:AWS_ACCESS_KEY_ID,secret:s3-credentials,key:AWS_ACCESS_KEY_ID"));

        assertThat(problems).anySatisfy(p -> assertThat(p).contains("spec.job.args")
                .contains("--kafka.sasl.password").contains("KAFKA_PASSWORD"));
    }

    @Test
    void missingResourceRequestsAreRefused() {
        List<String> problems = checkMainJob(d -> ((ObjectNode) d.at("/spec/taskManager/resources")).remove("requests"));

        assertThat(problems).anySatisfy(p -> assertThat(p).contains("spec.taskManager.resources.requests.cpu"));
    }

    @Test
    void fewerPartitionsThanTheSourceMayGetAreRefused() {
        List<String> problems = check(rendered("prod"), "KafkaTopic/user-events",
                t -> spec(t).put("partitions", 96));

        assertThat(problems).anySatisfy(p -> assertThat(p).contains("KafkaTopic/user-events spec.partitions: 96"));
    }

    @Test
    void aTopicOrUserThatIsNotThereIsRefused() {
        assertThat(checkMainJob(d -> replaceArgument(d, "--topic.predictions", "prediction")))
                .anySatisfy(p -> assertThat(p).contains("--topic.predictions 'prediction' is no KafkaTopic"));
        assertThat(checkMainJob(d -> replaceArgument(d, "--kafka.sasl.username", "someone")))
                .anySatisfy(p -> assertThat(p).contains("--kafka.sasl.username 'someone' is no KafkaUser"));
    }

    /** The broker would refuse the job what its KafkaUser's ACLs do not allow: the ops job reads three topics. */
    @Test
    void aKafkaUserWithoutTheAclsItsJobNeedsIsRefused() {
        assertThat(check(rendered("dev"), "KafkaUser/ops", u -> removeAcl(u, "topic", "predictions")))
                .anySatisfy(p -> assertThat(p).isEqualTo("KafkaUser/ops spec.authorization.acls: no Read on topic "
                        + "predictions (FlinkDeployment/ops)"));
        assertThat(check(rendered("dev"), "KafkaUser/ops", u -> removeAcl(u, "group", "ops")))
                .anySatisfy(p -> assertThat(p).contains("KafkaUser/ops").contains("no Read on group ops"));
        assertThat(check(rendered("prod"), "KafkaUser/ops", u -> removeAcl(u, "transactionalId", "ops")))
                .anySatisfy(p -> assertThat(p).contains("KafkaUser/ops")
                        .contains("no Write on the transactionalIds ops-"));
        assertThat(check(rendered("dev"), "KafkaUser/context-inference",
                u -> removeAcl(u, "topic", "predictions")))
                .anySatisfy(p -> assertThat(p).contains("no Write on topic predictions")
                        .endsWith("(FlinkDeployment/context-inference)"));
    }

    /** At least once, the ops job writes no transactions: its user needs no transactional ids. */
    @Test
    void anAtLeastOnceJobNeedsNoTransactionalIds() {
        List<ObjectNode> resources = copy(rendered("dev"));
        replaceArgument(find(resources, "FlinkDeployment/ops"), "--delivery", "at-least-once");
        removeAcl(find(resources, "KafkaUser/ops"), "transactionalId", "ops");

        assertThat(checks.check(resources)).isEmpty();
    }

    /** dev has one broker: a topic with three replicas would never be created, and its jobs would wait for it. */
    @Test
    void moreReplicasThanBrokersAreRefused() {
        assertThat(check(rendered("dev"), "KafkaTopic/kpis", t -> spec(t).put("replicas", 3)))
                .anySatisfy(p -> assertThat(p).isEqualTo("KafkaTopic/kpis spec.replicas: 3 replicas, but Kafka "
                        + "events has 1 broker(s)"));
        assertThat(check(rendered("prod"), "KafkaTopic/kpis",
                t -> ((ObjectNode) t.at("/spec/config")).put("min.insync.replicas", 4)))
                .anySatisfy(p -> assertThat(p).startsWith("KafkaTopic/kpis spec.config.min.insync.replicas: 4"));
    }

    @Test
    void aClientThatDoesNotSpeakTheListenersProtocolIsRefused() {
        List<String> problems = checkMainJob(d -> {
            replaceArgument(d, "--kafka.security.protocol", "SASL_PLAINTEXT");
            removeArgument(d, "--kafka.ssl.truststore");
        });

        assertThat(problems).anySatisfy(p -> assertThat(p).contains("--kafka.security.protocol 'SASL_PLAINTEXT'")
                .contains("speaks SASL_SSL"));
    }

    @Test
    void podsThatNothingScrapesAreRefused() {
        List<String> problems = checkMainJob(d -> ((ObjectNode) d.at("/spec/podTemplate/metadata/annotations"))
                .remove("prometheus.io/scrape"));

        assertThat(problems).anySatisfy(p -> assertThat(p).contains("spec.podTemplate.metadata.annotations"));
    }

    @Test
    void aSecretWithValuesInTheManifestsIsRefused() {
        List<ObjectNode> resources = copy(rendered("dev"));
        ObjectNode secret = Yaml.MAPPER.createObjectNode().put("apiVersion", "v1").put("kind", "Secret");
        secret.putObject("metadata").put("name", "s3-credentials");
        secret.putObject("stringData").put("AWS_SECRET_ACCESS_KEY", "minioadmin");
        resources.add(secret);

        assertThat(checks.check(resources)).anySatisfy(p -> assertThat(p).contains("Secret/s3-credentials data"));
    }

    @Test
    void operatorsWithoutAUidOfPipelineOperatorAreNamed() {
        assertThat(DeploymentChecks.checkUid(null, "Map")).hasValueSatisfying(p -> assertThat(p)
                .contains("'Map'").contains("no uid"));
        assertThat(DeploymentChecks.checkUid("my-map", "Map")).hasValueSatisfying(p -> assertThat(p)
                .contains("'my-map'").contains("not one of PipelineOperator's"));
        assertThat(DeploymentChecks.checkUid("Sink Committer: kafka-predictions-sink", "Committer")).isEmpty();
    }

    @Test
    void statefulOperatorsOfTheOpsJobWithoutItsUidsAreNamed() {
        assertThat(DeploymentChecks.checkOpsUid(null, "Window")).hasValueSatisfying(p -> assertThat(p)
                .contains("'Window'").contains("no uid"));
        assertThat(DeploymentChecks.checkOpsUid("window-2", "Window")).hasValueSatisfying(p -> assertThat(p)
                .contains("'window-2'").contains("none of OpsJob's"));
        assertThat(DeploymentChecks.checkOpsUid("Sink Committer: ops-alerts-sink", "Committer")).isEmpty();
    }

    /** What the check sees of the ops job: every operator with state, each with its fixed uid. */
    @Test
    void theOpsJobsStatefulOperatorsAreItsSourcesKeyedOperatorsAndSinks() {
        ObjectNode ops = find(rendered("prod"), "FlinkDeployment/ops");
        List<String> args = new ArrayList<>();
        args(ops).forEach(a -> args.add(a.asText()));

        List<Jobs.Operator> operators = Jobs.opsJobStatefulOperators(args.toArray(String[]::new),
                Configuration.fromMap(flinkConfiguration(ops)),
                Map.of("KAFKA_PASSWORD", "<from Secret ops>"));

        assertThat(operators).extracting(Jobs.Operator::uid).containsExactlyInAnyOrder("ops-events-source",
                "ops-predictions-source", "ops-dead-letters-source", "ops-event-prediction-join", "ops-window-stats",
                "ops-window-dead-letters", "ops-window-totals", "ops-detectors", "ops-late-records", "ops-alerts-sink",
                "Sink Committer: ops-alerts-sink");
    }

    private static List<String> checkMainJob(Consumer<ObjectNode> change) {
        return check(rendered("dev"), "FlinkDeployment/context-inference", change);
    }

    /** The problems of a rendered overlay after {@code change} to one of its resources. */
    private static List<String> check(List<ObjectNode> resources, String id, Consumer<ObjectNode> change) {
        List<ObjectNode> changed = copy(resources);
        change.accept(find(changed, id));
        return checks.check(changed);
    }

    private static ObjectNode spec(ObjectNode resource) {
        return (ObjectNode) resource.get("spec");
    }

    private static ObjectNode flinkConf(ObjectNode deployment) {
        return (ObjectNode) deployment.at("/spec/flinkConfiguration");
    }

    private static ArrayNode args(ObjectNode deployment) {
        return (ArrayNode) deployment.at("/spec/job/args");
    }

    private static void replaceArgument(ObjectNode deployment, String key, String value) {
        ArrayNode args = args(deployment);
        for (int i = 0; i + 1 < args.size(); i++) {
            if (args.get(i).asText().equals(key)) {
                args.set(i + 1, TextNode.valueOf(value));
            }
        }
    }

    private static void removeArgument(ObjectNode deployment, String key) {
        ArrayNode args = args(deployment);
        for (int i = 0; i + 1 < args.size(); i++) {
            if (args.get(i).asText().equals(key)) {
                args.remove(i + 1);
                args.remove(i);
                return;
            }
        }
    }

    private static void removeAcl(ObjectNode kafkaUser, String type, String name) {
        ArrayNode acls = (ArrayNode) kafkaUser.at("/spec/authorization/acls");
        for (int i = acls.size() - 1; i >= 0; i--) {
            if (acls.get(i).at("/resource/type").asText().equals(type)
                    && acls.get(i).at("/resource/name").asText().equals(name)) {
                acls.remove(i);
            }
        }
    }

    private static ObjectNode find(List<ObjectNode> resources, String id) {
        return resources.stream().filter(r -> id(r).equals(id)).findFirst()
                .orElseThrow(() -> new AssertionError("no " + id + " in the rendered overlay"));
    }

    private static List<ObjectNode> copy(List<ObjectNode> resources) {
        List<ObjectNode> copies = new ArrayList<>();
        resources.forEach(r -> copies.add(r.deepCopy()));
        return copies;
    }

    private static synchronized List<ObjectNode> rendered(String overlay) {
        return RENDERED.computeIfAbsent(overlay, o -> Kustomize.render(Build.file("deploy/k8s/overlays/" + o)));
    }
}
