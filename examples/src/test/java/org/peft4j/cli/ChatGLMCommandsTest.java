package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.PeftModel;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * {@code peft4j inspect} and {@code finetune} on the tiny ChatGLM fixture ({@code interop/fixtures/chatglm/model}:
 * modeling_chatglm weights, a SentencePiece {@code tokenizer.model} and no tokenizer.json).
 */
class ChatGLMCommandsTest {
    @TempDir
    static Path shared;
    static Path model;
    static Path data;

    @BeforeAll
    static void setUp() throws Exception {
        model = Fixtures.root().resolve("chatglm").resolve("model");
        data = CliFixtures.chatData(shared.resolve("train.jsonl"));
    }

    @Test
    void inspectListsChatglmModulesAndPeftsDefaultTarget() {
        CliFixtures.Run r = CliFixtures.run("inspect", "--model", model.toString());
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.out()).contains("2 modules selected")
                .contains("target_modules: {'query_key_value'} [PEFT's default]")
                .containsPattern("\\* transformer\\.encoder\\.layers\\.0\\.self_attention\\.query_key_value +Linear"
                        + " +weight \\[128, 32]")
                .containsPattern("  transformer\\.encoder\\.layers\\.1\\.mlp\\.dense_h_to_4h +Linear")
                .containsPattern("  transformer\\.output_layer +Linear");
    }

    @Test
    void finetuneTrainsLoraOnQueryKeyValueWithTheSentencePieceTokenizer(@TempDir Path out) throws Exception {
        CliFixtures.Run r = CliFixtures.run("finetune", "--model", model.toString(), "--data", data.toString(),
                "--output-dir", out.toString(), "--per-device-train-batch-size", "2", "--learning-rate", "1e-2",
                "--logging-steps", "1", "--lora-dropout", "0", "--max-steps", "2");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.out()).contains("chatglm, 2 layers").contains("target_modules={'query_key_value'}");
        PeftModel loaded = PeftModel.fromPretrained(AutoModelForCausalLM.fromPretrained(model), out);
        Tensor b = loaded.getBaseModel().getParameter(
                "transformer.encoder.layers.0.self_attention.query_key_value.lora_B.default.weight").data();
        float max = 0;
        for (float v : b.toFloatArray()) {
            max = Math.max(max, Math.abs(v));
        }
        assertThat(max).as("lora_B moved away from its zero initialisation").isGreaterThan(0f);
    }

    @Test
    void generateAndMergeUseTheAdaptersBaseModelAndTheSentencePieceTokenizer(@TempDir Path out) throws Exception {
        CliFixtures.Run t = CliFixtures.run("finetune", "--model", model.toString(), "--data", data.toString(),
                "--output-dir", out.toString(), "--per-device-train-batch-size", "2", "--max-steps", "1");
        assertThat(t.exitCode()).as(t.toString()).isZero();
        // no --model: the adapter's base_model_name_or_path (the ChatGLM fixture folder, no tokenizer.json)
        CliFixtures.Run g = CliFixtures.run("generate", "--adapter", out.toString(), "--prompt", "Hello",
                "--max-new-tokens", "3");
        assertThat(g.exitCode()).as(g.toString()).isZero();
        assertThat(g.out()).contains("model:   " + model).contains("before fine-tuning (base model):")
                .contains("after fine-tuning (base + adapter):").doesNotContain("[gMASK]").doesNotContain("<|");
        Path merged = out.resolveSibling(out.getFileName() + "-merged");
        CliFixtures.Run m = CliFixtures.run("merge", "--adapter", out.toString(), "--output-dir", merged.toString());
        assertThat(m.exitCode()).as(m.toString()).isZero();
        assertThat(m.out()).contains("into " + model).contains("tokenizer.model");
        CliFixtures.Run g2 = CliFixtures.run("generate", "--model", merged.toString(), "--prompt", "Hello",
                "--max-new-tokens", "3");
        assertThat(g2.exitCode()).as(g2.toString()).isZero();
        assertThat(g2.out()).contains("answer:");
    }
}
