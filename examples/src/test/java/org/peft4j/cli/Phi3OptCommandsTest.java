package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.data.HfTokenizer;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.testutil.Fixtures;

/**
 * {@code peft4j inspect} lists the Phi-3 and OPT modules under transformers' names (tiny fixture configs), and
 * {@code peft4j finetune} trains LoRA on each tiny architecture (the fixture config with the fixture tokenizer's
 * vocabulary).
 */
class Phi3OptCommandsTest {

    @Test
    void inspectListsOptModulesWithPeftsDefaultTargets() {
        CliFixtures.Run r = CliFixtures.run("inspect", "--model", Fixtures.model("opt").toString());
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.out()).contains("4 modules selected")
                .contains("target_modules: {'q_proj', 'v_proj'} [PEFT's default]")
                .containsPattern("\\* model\\.decoder\\.layers\\.0\\.self_attn\\.q_proj +Linear +weight \\[32, 32]")
                .containsPattern("  model\\.decoder\\.layers\\.1\\.self_attn\\.out_proj +Linear")
                .containsPattern("  model\\.decoder\\.layers\\.1\\.fc1 +Linear +weight \\[64, 32]")
                .containsPattern("  model\\.decoder\\.layers\\.1\\.fc2 +Linear");
    }

    @Test
    void inspectListsOpt350mStyleProjections() {
        CliFixtures.Run r = CliFixtures.run("inspect", "--model", Fixtures.model("opt-proj").toString(),
                "--target-modules", "all-linear");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.out()).containsPattern("\\* model\\.decoder\\.project_in +Linear +weight \\[32, 16]")
                .containsPattern("\\* model\\.decoder\\.project_out +Linear +weight \\[16, 32]")
                .doesNotContain("* lm_head");
    }

    @Test
    void inspectListsPhi3FusedModules() {
        CliFixtures.Run r = CliFixtures.run("inspect", "--model", Fixtures.model("phi3").toString(),
                "--target-modules", "qkv_proj,gate_up_proj");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        // qkv_proj: 4 query heads + 2 key + 2 value heads of 16; gate_up_proj: 2 * intermediate 48
        assertThat(r.out()).contains("4 modules selected")
                .containsPattern("\\* model\\.layers\\.0\\.self_attn\\.qkv_proj +Linear +weight \\[128, 64]")
                .containsPattern("\\* model\\.layers\\.1\\.mlp\\.gate_up_proj +Linear +weight \\[96, 64]")
                .containsPattern("  model\\.layers\\.1\\.self_attn\\.o_proj +Linear")
                .containsPattern("  model\\.layers\\.1\\.mlp\\.down_proj +Linear");
    }

    @ParameterizedTest
    @ValueSource(strings = {"opt", "opt-proj", "phi3"})
    void finetuneTrainsLoraOnEachFamily(String name, @TempDir Path tmp) throws Exception {
        Path tokDir = Fixtures.root().resolve("tokenizer");
        java.util.Map<String, Object> json = ModelConfig.load(Fixtures.model(name).resolve("config.json")).toDict();
        try (HfTokenizer tok = HfTokenizer.load(tokDir)) {
            json.put("vocab_size", tok.vocabSize());
        }
        json.put("max_position_embeddings", 256);
        json.put("bos_token_id", 0);
        json.put("eos_token_id", 2);
        Path model = Files.createDirectories(tmp.resolve("model"));
        PreTrainedModel m = AutoModelForCausalLM.fromConfig(ModelConfig.fromDict(json, name));
        m.initWeights(0, 0.1);
        m.savePretrained(model);
        for (String f : new String[] {"tokenizer.json", "tokenizer_config.json"}) {
            Files.copy(tokDir.resolve(f), model.resolve(f));
        }
        Path data = CliFixtures.chatData(tmp.resolve("train.jsonl"));
        Path out = tmp.resolve("out");
        String targets = name.equals("phi3") ? "qkv_proj,o_proj" : "q_proj,v_proj";
        CliFixtures.Run r = CliFixtures.run("finetune", "--model", model.toString(), "--data", data.toString(),
                "--output-dir", out.toString(), "--per-device-train-batch-size", "2", "--learning-rate", "1e-2",
                "--logging-steps", "1", "--lora-dropout", "0", "--max-steps", "2", "--target-modules", targets);
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.out()).contains("trainable params: ");
        assertThat(out.resolve("adapter_model.safetensors")).isRegularFile();
        assertThat(Fixtures.json(out.resolve("adapter_config.json")).get("base_model_name_or_path").getAsString())
                .isEqualTo(model.toString());
    }
}
