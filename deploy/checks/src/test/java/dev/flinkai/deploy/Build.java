package dev.flinkai.deploy;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What the build knows: the repository's root and the versions of the root pom, passed in by Maven (this module's
 * surefire configuration). The pom is the one source of versions the deployments are held to.
 */
final class Build {

    private Build() {}

    static Path repo() {
        Path root = Path.of(property("repo.root")).toAbsolutePath().normalize();
        if (!Files.isRegularFile(root.resolve("deploy/Dockerfile"))) {
            throw new IllegalStateException("repo.root " + root + " is not the repository root");
        }
        return root;
    }

    static Path file(String relative) {
        return repo().resolve(relative);
    }

    static String projectVersion() {
        return property("project.version");
    }

    static String flinkVersion() {
        return property("flink.version");
    }

    static String kafkaVersion() {
        return property("kafka.version");
    }

    static String djlVersion() {
        return property("djl.version");
    }

    static String pytorchNativeVersion() {
        return property("pytorch.native.version");
    }

    /** The operator's flinkVersion for the pom's Flink: 2.3.0 -> v2_3. */
    static String operatorFlinkVersion() {
        String[] parts = flinkVersion().split("\\.");
        return "v" + parts[0] + "_" + parts[1];
    }

    private static String property(String name) {
        String value = System.getProperty(name);
        if (value == null || value.isBlank()) {
            throw new IllegalStateException("System property " + name + " is not set: run the checks through Maven "
                    + "(mvn -B verify -pl deploy/checks -am), which passes the root pom's values");
        }
        return value;
    }
}
