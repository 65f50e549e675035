package org.peft4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

/**
 * The BOM has no parent (importing it must not import peft4j's third-party versions), so its version cannot be
 * inherited: this check makes {@code mvn verify} fail when peft4j-bom's version is not the parent's, or when the BOM
 * does not manage exactly the library modules at {@code ${project.version}}.
 */
class BomVersionTest {
    private static Path root() {
        Path root = Path.of("").toAbsolutePath();
        while (!Files.isRegularFile(root.resolve("peft4j-bom/pom.xml"))) {
            root = root.getParent();
        }
        return root;
    }

    private static Element pom(Path file) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        return f.newDocumentBuilder().parse(file.toFile()).getDocumentElement();
    }

    /** The text of the first direct child named {@code name}, or null. */
    private static String child(Element e, String name) {
        for (Node n = e.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element && n.getNodeName().equals(name)) {
                return n.getTextContent().trim();
            }
        }
        return null;
    }

    @Test
    void bomVersionIsTheParentsAndItManagesEveryLibraryModule() throws Exception {
        Path root = root();
        Element parent = pom(root.resolve("pom.xml"));
        Element bom = pom(root.resolve("peft4j-bom/pom.xml"));
        assertThat(child(bom, "version")).as("peft4j-bom/pom.xml <version>").isEqualTo(child(parent, "version"));
        assertThat(child(bom, "groupId")).isEqualTo(child(parent, "groupId"));

        List<String> libraries = new ArrayList<>();
        NodeList modules = parent.getElementsByTagName("module");
        for (int i = 0; i < modules.getLength(); i++) {
            String m = modules.item(i).getTextContent().trim();
            if (!List.of("peft4j-bom", "examples", "benchmarks").contains(m)) {
                Element module = pom(root.resolve(m).resolve("pom.xml"));
                Element moduleParent = (Element) module.getElementsByTagName("parent").item(0);
                assertThat(child(moduleParent, "version")).as(m + "'s parent version").isEqualTo(child(parent, "version"));
                libraries.add(child(module, "artifactId"));
            }
        }
        List<String> managed = new ArrayList<>();
        NodeList deps = bom.getElementsByTagName("dependency");
        for (int i = 0; i < deps.getLength(); i++) {
            Element d = (Element) deps.item(i);
            assertThat(child(d, "version")).as(child(d, "artifactId")).isEqualTo("${project.version}");
            managed.add(child(d, "artifactId"));
        }
        assertThat(managed).containsExactlyInAnyOrderElementsOf(libraries).contains("peft-core", "peft-lora");
    }
}
