package dev.flinkai.operators.context;

import dev.flinkai.operators.features.FeatureExtractor;
import dev.flinkai.operators.testing.CommittedModel;
import dev.flinkai.schemas.EventType;

import org.apache.avro.Schema;
import org.apache.avro.compiler.specific.SpecificCompiler;
import org.apache.avro.generic.GenericData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What happens to the job's code when the {@code EventType} schema gains a symbol: the schemas are compiled again
 * with the extra symbol (Avro's own compiler, as the build does), and the operator classes this build compiled run
 * against them in a class loader of their own ({@code EvolutionProbe}). Up to 8 types it works end to end (decode,
 * context, features, state, contexts of the previous format); the committed model, trained on 4 types, is refused at
 * start with a message naming both feature counts. A ninth type fails when the context class loads.
 */
class EventTypeEvolutionTest {

    /** A context of 3 events that the format-1 serializer of the previous build wrote (see UserContextTest). */
    static final byte[] FORMAT_1_CONTEXT = HexFormat.of().parseHex(UserContextTest.FORMAT_1_HEX);

    @Test
    void aFifthEventTypeWorksEndToEndAndAModelTrainedOnFourIsRefusedAtStart(@TempDir Path work) throws Exception {
        Map<String, Object> result = probe(work, List.of("HANDOFF"));

        assertThat(result).doesNotContainKey("failure");
        assertThat(result.get("eventTypes")).isEqualTo(5);
        assertThat(result.get("featureCount")).isEqualTo(42); // 36 of the context, 6 of the profile
        assertThat(result.get("decodedType")).isEqualTo("HANDOFF");
        assertThat(result.get("latestType")).isEqualTo(4);
        assertThat(result.get("previousType")).isEqualTo(EventType.QUERY.ordinal());
        assertThat(result.get("countOfAdded")).isEqualTo(1L);
        float[] features = (float[]) result.get("features");
        assertThat(features).hasSize(42);
        assertThat(features[4]).as("current type one-hot, slot of the new type").isEqualTo(1f);
        assertThat(features[5 + EventType.QUERY.ordinal()]).as("previous type one-hot").isEqualTo(1f);
        assertThat(result.get("roundTrip")).isEqualTo(true);
        assertThat(result.get("formerTotalEvents")).as("a context of the previous format still reads").isEqualTo(3L);
        assertThat(result.get("formerCountOfAdded")).isEqualTo(0L);
        assertThat(result.get("formerAfterAdd")).isEqualTo(1L);
        assertThat((String) result.get("modelRefused"))
                .contains("takes 32 features")
                .contains("42 = context 36 (4 blocks of one slot per EventType symbol (5: [QUERY, ACTION, FEEDBACK, "
                        + "TASK_OUTCOME, HANDOFF]) + 16) + profile 6")
                .contains("a model takes all or the context's 36");
    }

    @Test
    void aNinthEventTypeFailsWhenTheContextLoadsNamingTheLimit(@TempDir Path work) throws Exception {
        Map<String, Object> result = probe(work, List.of("A5", "A6", "A7", "A8", "A9"));
        assertThat((String) result.get("failure"))
                .contains("EventType has 9 symbols")
                .contains("packs an event type into 3 bits (at most 8 types)");
    }

    @Test
    void todaysBuildHasFourTypesThirtyTwoContextFeaturesAndSixOfTheProfile() {
        assertThat(UserContext.EVENT_TYPES).isEqualTo(EventType.values().length).isEqualTo(4);
        assertThat(FeatureExtractor.CONTEXT_FEATURE_COUNT).isEqualTo(32);
        assertThat(FeatureExtractor.FEATURE_COUNT).isEqualTo(38);
    }

    /** Compiles the schemas with {@code extraSymbols} added to EventType and runs the probe against them. */
    @SuppressWarnings("unchecked")
    private static Map<String, Object> probe(Path work, List<String> extraSymbols) throws Exception {
        Path sources = Files.createDirectories(work.resolve("src"));
        Path classes = Files.createDirectories(work.resolve("classes"));
        Schema.Parser parser = new Schema.Parser();
        Path avro = schemaDir();
        String eventType = Files.readString(avro.resolve("EventType.avsc"));
        String symbols = "\"TASK_OUTCOME\"";
        StringBuilder grown = new StringBuilder(symbols);
        extraSymbols.forEach(s -> grown.append(", \"").append(s).append('"'));
        assertThat(eventType).contains(symbols + "]");
        List<Schema> schemas = new ArrayList<>();
        schemas.add(parser.parse(eventType.replace(symbols + "]", grown + "]")));
        for (String file : List.of("UserEvent.avsc", "Prediction.avsc", "DeadLetter.avsc")) {
            schemas.add(parser.parse(avro.resolve(file).toFile()));
        }
        for (Schema schema : schemas) {
            SpecificCompiler compiler = new SpecificCompiler(schema);
            compiler.setStringType(GenericData.StringType.String);
            compiler.compileToDestination(null, sources.toFile());
        }
        Path probe = sources.resolve("dev/flinkai/evolution/EvolutionProbe.java");
        Files.createDirectories(probe.getParent());
        try (InputStream in = EventTypeEvolutionTest.class.getResourceAsStream("/evolution/EvolutionProbe.java.txt")) {
            Files.write(probe, in.readAllBytes());
        }
        List<String> files;
        try (Stream<Path> walk = Files.walk(sources)) {
            files = walk.filter(p -> p.toString().endsWith(".java")).map(Path::toString).toList();
        }
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        ByteArrayOutputStream errors = new ByteArrayOutputStream();
        List<String> args = new ArrayList<>(List.of("-nowarn", "-d", classes.toString(),
                "-cp", System.getProperty("java.class.path")));
        args.addAll(files);
        int status = javac.run(null, null, errors, args.toArray(String[]::new));
        assertThat(status).as(errors.toString(StandardCharsets.UTF_8)).isZero();

        URL operatorClasses = UserContext.class.getProtectionDomain().getCodeSource().getLocation();
        try (URLClassLoader loader = new ProjectFirst(new URL[] {classes.toUri().toURL(), operatorClasses},
                EventTypeEvolutionTest.class.getClassLoader())) {
            Function<Object[], Map<String, Object>> run = (Function<Object[], Map<String, Object>>)
                    loader.loadClass("dev.flinkai.evolution.EvolutionProbe").getDeclaredConstructor().newInstance();
            return run.apply(new Object[] {FORMAT_1_CONTEXT, CommittedModel.metadataFile().toString()});
        }
    }

    private static Path schemaDir() {
        for (Path dir = Path.of(System.getProperty("user.dir")).toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("schemas/src/main/avro");
            if (Files.isDirectory(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("schemas/src/main/avro not found above " + System.getProperty("user.dir"));
    }

    /** Loads the project's classes ({@code dev.flinkai.*}) from its own URLs first; everything else from the parent. */
    private static final class ProjectFirst extends URLClassLoader {
        ProjectFirst(URL[] urls, ClassLoader parent) {
            super(urls, parent);
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            if (!name.startsWith("dev.flinkai.")) {
                return super.loadClass(name, resolve);
            }
            synchronized (getClassLoadingLock(name)) {
                Class<?> c = findLoadedClass(name);
                if (c == null) {
                    try {
                        c = findClass(name);
                    } catch (ClassNotFoundException e) {
                        c = super.loadClass(name, false);
                    }
                }
                if (resolve) {
                    resolveClass(c);
                }
                return c;
            }
        }
    }
}
