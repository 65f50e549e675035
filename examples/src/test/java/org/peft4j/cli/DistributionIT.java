package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.testutil.Fixtures;

/**
 * The installable distribution built by {@code mvn package} ({@code target/peft4j-<version>-dist.zip}): unpacked into
 * an empty folder, {@code bin/peft4j} runs from there with nothing of the checkout or Maven on its class path.
 * Runs in the integration-test phase (after package) as {@code *IT}.
 */
class DistributionIT {
    @TempDir
    static Path root;
    static Path home;

    @BeforeAll
    static void unpack() throws IOException {
        // set by the integration-test execution in examples/pom.xml, after package built the zip; the unit-test
        // execution (before package) leaves it unset when -Dtest names this class
        String zipProperty = System.getProperty("peft4j.dist.zip");
        assumeTrue(zipProperty != null, "runs in the integration-test phase, after package");
        Path zip = Paths.get(zipProperty);
        assertThat(zip).as("mvn package builds the distribution").isRegularFile();
        Path install = Files.createDirectories(root.resolve("install"));
        try (ZipInputStream in = new ZipInputStream(Files.newInputStream(zip))) {
            for (ZipEntry e; (e = in.getNextEntry()) != null; ) {
                Path p = install.resolve(e.getName()).normalize();
                assertThat(p.startsWith(install)).as(e.getName()).isTrue();
                if (e.isDirectory()) {
                    Files.createDirectories(p);
                } else {
                    Files.createDirectories(p.getParent());
                    Files.copy(in, p);
                }
            }
        }
        try (var dirs = Files.list(install)) {
            home = dirs.findFirst().orElseThrow();
        }
        assertThat(home.getFileName().toString()).isEqualTo("peft4j-" + VersionProvider.version());
        // java.util.zip does not restore the Unix mode the archive records (0755)
        assertThat(home.resolve("bin/peft4j").toFile().setExecutable(true)).isTrue();
    }

    /** Runs {@code bin/peft4j args} in an empty working folder, with no CLASSPATH and no Maven on the PATH. */
    private static CliFixtures.Run peft4j(String... args) throws Exception {
        Path work = Files.createTempDirectory(root, "work");
        List<String> cmd = new ArrayList<>(List.of(home.resolve("bin/peft4j").toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(work.toFile());
        Map<String, String> env = pb.environment();
        env.remove("CLASSPATH");
        env.remove("JAVA_OPTS");
        env.put("PATH", "/usr/bin:/bin");
        env.put("JAVA_HOME", System.getProperty("java.home"));
        Path err = root.resolve("err-" + work.getFileName());
        pb.redirectError(err.toFile());
        Process p = pb.start();
        String out;
        try (InputStream in = p.getInputStream()) {
            out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        try (var left = Files.list(work)) {
            assertThat(left).as("wrote nothing into the working folder").isEmpty();
        }
        return new CliFixtures.Run(p.exitValue(), out, Files.readString(err));
    }

    @Test
    void layoutHasLauncherLibrariesModelAndLicense() throws IOException {
        assertThat(home.resolve("LICENSE")).isRegularFile();
        assertThat(home.resolve("NOTICE")).isRegularFile();
        assertThat(home.resolve("examples/default/model/model.safetensors")).isRegularFile();
        assertThat(home.resolve("examples/default/data/train.jsonl")).isRegularFile();
        try (var jars = Files.list(home.resolve("lib"))) {
            List<String> names = jars.map(j -> j.getFileName().toString()).toList();
            assertThat(names).anyMatch(n -> n.startsWith("examples-")).anyMatch(n -> n.startsWith("peft-core-"))
                    .anyMatch(n -> n.startsWith("peft-lora-")).anyMatch(n -> n.startsWith("onnxruntime-"))
                    .anyMatch(n -> n.startsWith("picocli-")).noneMatch(n -> n.contains("junit"))
                    .noneMatch(n -> n.contains("tests"));
        }
    }

    @Test
    void versionRunsFromTheUnpackedFolder() throws Exception {
        CliFixtures.Run r = peft4j("--version");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.out()).startsWith("peft4j " + VersionProvider.version()).contains("Java ");
    }

    @Test
    void inspectReadsAFixtureModel() throws Exception {
        Path model = Files.createDirectories(root.resolve("llama-mha"));
        Files.copy(Fixtures.model("llama-mha").resolve("config.json"), model.resolve("config.json"));
        CliFixtures.Run r = peft4j("inspect", "--model", model.toString());
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.out()).contains("4 modules selected")
                .contains("target_modules: {'q_proj', 'v_proj'} [PEFT's default] (4 modules: q_proj, v_proj)");
    }

    @Test
    void generateRunsTheEmbeddedModelOnOnnxRuntime() throws Exception {
        CliFixtures.Run r = peft4j("generate", "--prompt", "What is a stock?", "--max-new-tokens", "2",
                "--device", "auto");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.out()).contains("### prompt 1/1: What is a stock?").contains("answer:");
    }
}
