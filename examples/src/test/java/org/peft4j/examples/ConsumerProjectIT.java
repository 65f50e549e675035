package org.peft4j.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.data.AutoTokenizer;
import org.peft4j.data.Message;
import org.peft4j.data.Tokenizer;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.PeftModel;
import org.peft4j.safetensors.SafeTensors;

/**
 * Issue 15's "done when": a brand-new Maven project using only the README's snippet fine-tunes, saves, reloads and
 * generates text in under 30 lines. {@code src/it/readme-consumer} (its pom is the README's snippet, see
 * {@link ReadmeConsumerPomTest}) is compiled by a nested Maven build (maven-invoker-plugin, pre-integration-test)
 * against this build's artifacts in a private local repository; this test runs its {@code Main} with plain
 * {@code java} on the class path that build resolved, then checks the adapter it wrote and its answer against an
 * independent reload with the lower-level API (base model + {@code PeftModel.fromPretrained}, greedy ids, decode).
 */
class ConsumerProjectIT {
    @Test
    void readmeProjectFineTunesSavesReloadsAndGenerates(@TempDir Path tmp) throws Exception {
        String dir = System.getProperty("peft4j.consumer.dir");
        assumeTrue(dir != null, "runs in the integration-test phase, after the nested build");
        Path project = Path.of(dir);
        String version = System.getProperty("peft4j.version");
        assertThat(project.resolve("target/classes/com/example/Main.class")).as("the nested build compiled Main")
                .isRegularFile();
        List<String> classPath = Arrays.asList(
                Files.readString(project.resolve("target/classpath.txt")).trim().split(File.pathSeparator));
        Path privateRepo = Path.of(System.getProperty("peft4j.it.repo"));
        // the README's two dependencies and what they bring, peft4j's own from this build's private repository
        assertThat(classPath).anyMatch(j -> j.startsWith(privateRepo.toString())
                        && j.endsWith("peft-lora-" + version + ".jar"))
                .anyMatch(j -> j.startsWith(privateRepo.toString()) && j.endsWith("peft-core-" + version + ".jar"))
                .anyMatch(j -> j.contains("onnxruntime")).anyMatch(j -> j.endsWith("slf4j-simple-2.0.16.jar"))
                .noneMatch(j -> j.contains("junit"));
        assertThat(Files.readAllLines(project.resolve("src/main/java/com/example/Main.java"))).hasSizeLessThan(30);

        Path root = Path.of("").toAbsolutePath();
        while (!Files.isDirectory(root.resolve("examples/default/model"))) {
            root = root.getParent();
        }
        Path modelDir = root.resolve("examples/default/model");
        Path data = tmp.resolve("train.jsonl"); // a tiny JSONL: 8 records of the bundled data
        Files.write(data, Files.readAllLines(root.resolve("examples/default/data/train.jsonl")).subList(0, 8));
        Path out = tmp.resolve("out");

        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", project.resolve("target/classes") + File.pathSeparator + String.join(File.pathSeparator,
                classPath), "com.example.Main", modelDir.toString(), data.toString(), out.toString())
                .directory(tmp.toFile()).redirectError(tmp.resolve("stderr.txt").toFile());
        pb.environment().remove("CLASSPATH");
        Process p = pb.start();
        String stdout;
        try (InputStream in = p.getInputStream()) {
            stdout = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        assertThat(p.waitFor(180, TimeUnit.SECONDS)).isTrue();
        String stderr = Files.readString(tmp.resolve("stderr.txt"));
        assertThat(p.exitValue()).as(stdout + stderr).isZero();

        Path adapter = out.resolve("adapter");
        assertThat(adapter.resolve("adapter_config.json")).isRegularFile();
        assertThat(Files.readString(adapter.resolve("adapter_config.json")))
                .contains(modelDir.toString()); // base_model_name_or_path
        try (SafeTensors st = SafeTensors.open(adapter.resolve("adapter_model.safetensors"))) {
            List<String> loraB = st.keys().stream().filter(k -> k.contains("lora_B")).toList();
            assertThat(loraB).hasSize(8); // q_proj and v_proj of 4 layers
            for (String k : loraB) { // PEFT initialises lora_B to zero: non-zero means it was fine-tuned
                float[] w = st.get(k).toFloatArray();
                double norm = 0;
                for (float v : w) {
                    norm += Math.abs(v);
                }
                assertThat(norm).as(k).isGreaterThan(0);
            }
        }

        List<String> answers = stdout.lines().filter(l -> l.startsWith("answer: ")).toList();
        assertThat(answers).as(stdout + stderr).hasSize(1);
        Tokenizer tokenizer = AutoTokenizer.load(modelDir);
        try (PeftModel loaded = PeftModel.fromPretrained(AutoModelForCausalLM.fromPretrained(modelDir), adapter)) {
            long[] prompt = tokenizer.applyChatTemplate(List.of(Message.user("What is a stock?")), true);
            long[] ids = loaded.generate(new long[][] {prompt}, null, GenerationConfig.builder().maxNewTokens(20)
                    .eosTokenIds(List.of(1L, 2L)).padTokenId(3L).build())[0];
            int end = prompt.length;
            while (end < ids.length && ids[end] != 1 && ids[end] != 2) {
                end++;
            }
            String expected = tokenizer.decode(Arrays.copyOfRange(ids, prompt.length, end), true);
            assertThat(expected).isNotBlank();
            assertThat(answers.get(0)).isEqualTo("answer: " + expected);
        } finally {
            AutoTokenizer.close(tokenizer);
        }
    }
}
