package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.data.HfTokenizer;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.testutil.Fixtures;

/** {@code peft4j inspect} and {@code peft4j finetune} on the Qwen3 and Gemma 2 fixtures. */
class Qwen3Gemma2CliTest {

    @ParameterizedTest
    @ValueSource(strings = {"qwen3", "gemma2"})
    void inspectListsTheFamilysModulesAndPeftsDefaultTargets(String name) {
        CliFixtures.Run r = CliFixtures.run("inspect", "--model", Fixtures.model(name).toString());
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.out()).contains("4 modules selected")
                .contains("target_modules: {'q_proj', 'v_proj'} [PEFT's default] (4 modules: q_proj, v_proj)")
                .containsPattern("\\* model\\.layers\\.1\\.self_attn\\.v_proj +Linear");
        if (name.equals("qwen3")) {
            // head_dim 16 != hidden 32 / 4 heads: q_proj is [64, 32]; per-head norms of size 16
            assertThat(r.out())
                    .containsPattern("\\* model\\.layers\\.0\\.self_attn\\.q_proj +Linear +weight \\[64, 32]")
                    .containsPattern("  model\\.layers\\.0\\.self_attn\\.q_norm +RMSNorm +weight \\[16]")
                    .containsPattern("  model\\.layers\\.0\\.self_attn\\.k_norm +RMSNorm +weight \\[16]");
        } else {
            assertThat(r.out())
                    .containsPattern("  model\\.embed_tokens +Gemma2TextScaledWordEmbedding +weight \\[256, 32]")
                    .containsPattern("  model\\.layers\\.0\\.pre_feedforward_layernorm +Gemma2RMSNorm +weight \\[32]")
                    .containsPattern("  model\\.layers\\.1\\.post_feedforward_layernorm +Gemma2RMSNorm");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen3", "gemma2"})
    void finetuneTrainsAndSavesAnAdapter(String name, @TempDir Path tmp) throws Exception {
        // the fixture's architecture with the vocabulary of the tokenizer fixture, randomly initialised
        Path tokDir = Fixtures.root().resolve("tokenizer");
        long vocab;
        try (HfTokenizer tok = HfTokenizer.load(tokDir)) {
            vocab = tok.vocabSize();
        }
        JsonObject cfg = JsonParser.parseString(Files.readString(Fixtures.model(name).resolve("config.json")))
                .getAsJsonObject();
        cfg.addProperty("vocab_size", vocab);
        PreTrainedModel m = AutoModelForCausalLM.fromConfig(ModelConfig.parse(cfg.toString()));
        m.initWeights(0, 0.1);
        Path model = Files.createDirectories(tmp.resolve("model"));
        m.savePretrained(model);
        for (String f : new String[] {"tokenizer.json", "tokenizer_config.json"}) {
            Files.copy(tokDir.resolve(f), model.resolve(f));
        }
        Path data = CliFixtures.chatData(tmp.resolve("train.jsonl"));
        Path out = tmp.resolve("out");
        CliFixtures.Run r = CliFixtures.run("finetune", "--model", model.toString(), "--data", data.toString(),
                "--output-dir", out.toString(), "--per-device-train-batch-size", "2", "--learning-rate", "1e-2",
                "--logging-steps", "1", "--lora-dropout", "0", "--max-steps", "2");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.out()).contains("target_modules={'q_proj', 'v_proj'}");
        assertThat(out.resolve("adapter_model.safetensors")).isRegularFile();
        List<Double> losses = Files.readAllLines(out.resolve("trainer_log.jsonl")).stream()
                .filter(l -> !l.isBlank())
                .map(l -> JsonParser.parseString(l).getAsJsonObject()).filter(o -> o.has("loss"))
                .map(o -> o.get("loss").getAsDouble()).collect(Collectors.toList());
        assertThat(losses).hasSize(2).allMatch(Double::isFinite).allMatch(l -> l > 0);
    }
}
