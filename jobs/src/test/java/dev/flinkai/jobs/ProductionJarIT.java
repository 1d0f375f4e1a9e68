package dev.flinkai.jobs;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.JarFile;

import static org.assertj.core.api.Assertions.assertThat;

/** The shaded jar the cluster runs (built in the package phase, before this test) holds production code only. */
class ProductionJarIT {

    @Test
    void holdsTheJobsAndNoBenchmarkOrTestCode() throws Exception {
        Path jar = Path.of("target", "flink-ai-jobs.jar");
        assertThat(jar).exists();
        List<String> entries;
        try (JarFile file = new JarFile(jar.toFile())) {
            entries = file.stream().map(e -> e.getName()).toList();
        }
        assertThat(entries).contains("dev/flinkai/jobs/ContextInferenceJob.class", "dev/flinkai/jobs/EventGeneratorJob.class",
                "dev/flinkai/jobs/CheckSettings.class", "dev/flinkai/operators/inference/ModelClient.class");
        assertThat(entries).as("benchmark classes").noneMatch(e -> e.startsWith("dev/flinkai/bench/"));
        assertThat(entries).as("HdrHistogram").noneMatch(e -> e.startsWith("org/HdrHistogram/"));
        assertThat(entries).as("JMH").noneMatch(e -> e.startsWith("org/openjdk/jmh/"));
        assertThat(entries).as("test fixtures").noneMatch(e -> e.startsWith("dev/flinkai/operators/testing/"));
        assertThat(entries).as("DJL, which the cluster provides parent-first").noneMatch(e -> e.startsWith("ai/djl/"));
        assertThat(Files.size(jar)).as("bytes").isGreaterThan(1_000_000L);
    }
}
