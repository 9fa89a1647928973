package com.ticketrush.demo.architecture;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.Test;

/**
 * Layer rules, checked on the main source files (no extra library needed):
 * the HTTP layer never touches the Redis client, the queue domain depends on the JDK only,
 * and the Redis adapter does not reach back into the HTTP layer.
 */
public class LayerDependencyArchTest {
    private static final String ROOT = "com.ticketrush.demo";
    /** Any mention of a project package, as an import or a fully qualified name. */
    private static final Pattern PROJECT_REF = Pattern.compile("\\bcom\\.ticketrush\\.demo(?:\\.[a-z]\\w*)*");

    @Test
    public void httpLayerDoesNotUseRedisClient() throws IOException {
        assertNoReferences("http", ROOT + ".redis");
    }

    @Test
    public void queueDomainUsesNeitherHttpNorRedis() throws IOException {
        assertNoReferences("queue", ROOT + ".http", ROOT + ".redis");
    }

    @Test
    public void queueDomainDependsOnJdkOnly() throws IOException {
        List<String> offending = new ArrayList<>();
        for (Path file : sources("queue")) {
            for (String ref : projectReferences(file)) {
                if (!ref.startsWith(ROOT + ".queue")) {
                    offending.add(file.getFileName() + " -> " + ref);
                }
            }
        }
        assertEquals("queue package must depend only on itself and the JDK", List.of(), offending);
    }

    @Test
    public void redisAdapterDoesNotUseHttpLayer() throws IOException {
        assertNoReferences("redis", ROOT + ".http");
    }

    private static void assertNoReferences(String pkg, String... forbidden) throws IOException {
        List<String> offending = new ArrayList<>();
        for (Path file : sources(pkg)) {
            for (String ref : projectReferences(file)) {
                for (String f : forbidden) {
                    if (ref.equals(f) || ref.startsWith(f + ".")) {
                        offending.add(file.getFileName() + " -> " + ref);
                    }
                }
            }
        }
        assertEquals("package " + ROOT + "." + pkg + " has forbidden dependencies", List.of(), offending);
    }

    /** Project packages a file mentions, apart from its own package declaration. */
    private static List<String> projectReferences(Path file) throws IOException {
        String text = Files.readString(file, StandardCharsets.UTF_8).replaceFirst("(?m)^package [\\w.]+;", "");
        List<String> refs = new ArrayList<>();
        Matcher m = PROJECT_REF.matcher(text);
        while (m.find()) {
            refs.add(m.group());
        }
        return refs;
    }

    private static List<Path> sources(String pkg) throws IOException {
        Path root = Paths.get(System.getProperty("demo.sourceDir", "src/main/java"));
        Path dir = root.resolve(ROOT.replace('.', '/')).resolve(pkg);
        assertTrue("source folder not found: " + dir.toAbsolutePath()
                + " (run through Gradle, or set -Ddemo.sourceDir)", Files.isDirectory(dir));
        List<Path> files;
        try (Stream<Path> s = Files.walk(dir)) {
            files = s.filter(p -> p.toString().endsWith(".java")).sorted().collect(Collectors.toList());
        }
        assertFalse("no Java sources in " + dir + ": the rule would pass vacuously", files.isEmpty());
        return files;
    }
}
