package dev.flinkai.deploy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The parts of deploy/Dockerfile the checks compare: its version arguments, base images and the job jar's place. */
record Dockerfile(Map<String, String> args, List<String> baseImages, String jobJar) {

    private static final Pattern ARG = Pattern.compile("^ARG\\s+([A-Z_]+)=(\\S+)\\s*$");
    private static final Pattern FROM = Pattern.compile("^FROM\\s+(\\S+)");
    private static final Pattern JOB_JAR =
            Pattern.compile("^COPY\\s+(?:--\\S+\\s+)*jobs/target/\\S+\\.jar\\s+(\\S+)\\s*$");

    static Dockerfile read(Path file) {
        Map<String, String> args = new LinkedHashMap<>();
        List<String> baseImages = new ArrayList<>();
        String jobJar = null;
        try {
            for (String line : Files.readAllLines(file)) {
                Matcher arg = ARG.matcher(line);
                Matcher from = FROM.matcher(line);
                Matcher jar = JOB_JAR.matcher(line);
                if (arg.matches()) {
                    args.put(arg.group(1), arg.group(2));
                } else if (from.find()) {
                    baseImages.add(from.group(1));
                } else if (jar.matches()) {
                    jobJar = jar.group(1);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (jobJar == null) {
            throw new IllegalStateException(file + " copies no jobs/target/*.jar into the image");
        }
        return new Dockerfile(args, baseImages, jobJar);
    }

    /** A base image with the ARGs it names replaced by their defaults. */
    String resolved(String image) {
        String result = image;
        for (Map.Entry<String, String> arg : args.entrySet()) {
            result = result.replace("${" + arg.getKey() + "}", arg.getValue());
        }
        return result;
    }
}
