package dev.flinkai.deploy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The defaults of deploy/local/stack.env, the local stack's settings: {@code : "${NAME:=value}"} lines and the
 * {@code NAME="...${OTHER}..."} lines derived from them, as bash would expand them with nothing overridden.
 */
final class StackEnv {

    private static final Pattern DEFAULT = Pattern.compile("^:\\s+\"\\$\\{([A-Z0-9_]+):=([^}]*)}\"");
    private static final Pattern DERIVED = Pattern.compile("^([A-Z0-9_]+)=\"([^\"]*)\"");
    private static final Pattern REFERENCE = Pattern.compile("\\$\\{([A-Z0-9_]+)}");

    private StackEnv() {}

    static Map<String, String> defaults(Path file) {
        Map<String, String> values = new LinkedHashMap<>();
        try {
            for (String line : Files.readAllLines(file)) {
                Matcher defaulted = DEFAULT.matcher(line);
                Matcher derived = DERIVED.matcher(line);
                if (defaulted.find()) {
                    values.put(defaulted.group(1), expand(defaulted.group(2), values));
                } else if (derived.find()) {
                    values.put(derived.group(1), expand(derived.group(2), values));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return values;
    }

    private static String expand(String value, Map<String, String> values) {
        Matcher reference = REFERENCE.matcher(value);
        StringBuilder expanded = new StringBuilder();
        while (reference.find()) {
            reference.appendReplacement(expanded, Matcher.quoteReplacement(values.getOrDefault(reference.group(1), "")));
        }
        return reference.appendTail(expanded).toString();
    }
}
