package org.peft4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Keeps README.md's Maven snippet and the consumer project ConsumerProjectIT builds (src/it/readme-consumer) in
 * sync: the project's pom holds the snippet character for character, and the snippet's BOM version is this build's.
 */
class ReadmeConsumerPomTest {
    private static Path root() {
        Path root = Path.of("").toAbsolutePath();
        while (!Files.isRegularFile(root.resolve("README.md")) || !Files.isDirectory(root.resolve("examples"))) {
            root = root.getParent();
        }
        return root;
    }

    /** The first ```xml block of README.md (the "As a library" snippet near the top). */
    static String readmeSnippet(Path root) throws IOException {
        Matcher m = Pattern.compile("```xml\n(.*?)```", Pattern.DOTALL)
                .matcher(Files.readString(root.resolve("README.md")));
        assertThat(m.find()).as("README.md has a Maven snippet").isTrue();
        return m.group(1);
    }

    @Test
    void consumerPomIsTheReadmeSnippet() throws IOException {
        Path root = root();
        String snippet = readmeSnippet(root);
        assertThat(snippet).contains("<artifactId>peft4j-bom</artifactId>").contains("<scope>import</scope>")
                .contains("<artifactId>peft-lora</artifactId>").contains("slf4j-simple");
        String pom = Files.readString(root.resolve("examples/src/it/readme-consumer/pom.xml"));
        assertThat(pom).contains(snippet);
        // besides the snippet, only the project's own coordinates and compiler settings
        String rest = pom.replace(snippet, "").replaceAll("(?s)<!--.*?-->", "");
        assertThat(rest).doesNotContain("<dependency>").doesNotContain("<build>").doesNotContain("<repositories>")
                .doesNotContain("<parent>").doesNotContain("org.peft4j");
    }

    @Test
    void readmeSnippetNamesThisBuildsVersion() throws IOException {
        Path root = root();
        Matcher bom = Pattern.compile("<artifactId>peft4j-bom</artifactId><version>([^<]+)</version>")
                .matcher(readmeSnippet(root));
        assertThat(bom.find()).isTrue();
        Matcher parent = Pattern.compile("<artifactId>peft4j-parent</artifactId>\\s*<version>([^<]+)</version>")
                .matcher(Files.readString(root.resolve("pom.xml")));
        assertThat(parent.find()).isTrue();
        assertThat(bom.group(1)).isEqualTo(parent.group(1));
    }
}
