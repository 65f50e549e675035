package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.PeftModel;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/** {@code peft4j generate} and {@code peft4j merge} with a random LoRA adapter on the tiny Llama. */
class GenerateMergeCommandTest {
    @TempDir
    static Path shared;
    static Path model;
    static Path adapter;

    @BeforeAll
    static void setUp() throws IOException {
        model = CliFixtures.tinyModel(Files.createDirectories(shared.resolve("model")));
        adapter = CliFixtures.randomAdapter(model, shared.resolve("adapter"));
    }

    @Test
    void generatePrintsBeforeAndAfterFineTuningForEachPrompt() throws IOException {
        Path prompts = shared.resolve("prompts.jsonl");
        Files.writeString(prompts, "{\"prompt\": \"Say hello\", \"lang\": \"en\", \"kind\": \"greeting\", "
                + "\"expect\": \"hello world\"}\n\n{\"prompt\": \"Name a color\"}\n");
        CliFixtures.Run r = CliFixtures.run("generate", "--model", model.toString(), "--adapter", adapter.toString(),
                "--prompts-file", prompts.toString(), "--prompt", "Who are you?", "--max-new-tokens", "6");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.out()).contains("### prompt 1/3: Who are you?").contains("### prompt 2/3: Say hello")
                .contains("expected: hello world").contains("### prompt 3/3: Name a color");
        assertThat(r.out().split("before fine-tuning \\(base model\\):", -1)).hasSize(4);
        assertThat(r.out().split("after fine-tuning \\(base \\+ adapter\\):", -1)).hasSize(4);
    }

    @Test
    void generateWithoutAdapterPrintsOneAnswer() {
        CliFixtures.Run r = CliFixtures.run("generate", "--model", model.toString(), "--prompt", "Hi",
                "--max-new-tokens", "3", "--do-sample", "--temperature", "0.7", "--top-k", "5", "--seed", "1");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.out()).contains("### prompt 1/1: Hi").contains("answer:").doesNotContain("before fine-tuning");
    }

    @Test
    void mergedModelLoadsWithoutPeftAndGivesTheAdaptersLogits(@TempDir Path out) throws Exception {
        CliFixtures.Run r = CliFixtures.run("merge", "--model", model.toString(), "--adapter", adapter.toString(),
                "--output-dir", out.toString());
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(out.resolve("config.json")).isRegularFile();
        assertThat(out.resolve("model.safetensors")).isRegularFile();
        assertThat(out.resolve("tokenizer.json")).hasSameBinaryContentAs(model.resolve("tokenizer.json"));
        assertThat(out.resolve("tokenizer_config.json")).isRegularFile();

        Tensor ids = Tensor.of(new long[] {0, 4, 17, 42, 99, 5, 250, 13}, 1, 8);
        PreTrainedModel base = AutoModelForCausalLM.fromPretrained(model);
        Tensor baseLogits = base.logits(ids, null);
        Tensor peftLogits = PeftModel.fromPretrained(base, adapter).logits(ids, null);
        Tensor mergedLogits = AutoModelForCausalLM.fromPretrained(out).logits(ids, null);
        assertThat(Fixtures.maxAbsDiff(peftLogits.toFloatArray(), baseLogits.toFloatArray()))
                .as("the adapter changes the logits").isGreaterThan(1e-3);
        assertThat(Fixtures.maxAbsDiff(mergedLogits.toFloatArray(), peftLogits.toFloatArray())).isLessThan(1e-4);
    }

    @Test
    void mergeNeedsAnAdapterFolder(@TempDir Path out) {
        Path missing = out.resolve("no-such-adapter");
        CliFixtures.Run r = CliFixtures.run("merge", "--model", model.toString(), "--adapter", missing.toString(),
                "--output-dir", out.resolve("merged").toString());
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("--adapter " + missing).contains("folder not found");
    }
}
