package org.peft4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.data.HfTokenizer;
import org.peft4j.lora.LoraConfig;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.config.TaskType;
import org.peft4j.testutil.Fixtures;

/**
 * The adapter-serving example on a tiny Llama with the fixture tokenizer and a random (non-zero) LoRA adapter: the
 * adapter changes the answer, and the exported merged folder answers exactly as base + adapter.
 */
class AdapterInferenceTest {
    @Test
    void loadsGeneratesMergesAndExports(@TempDir Path dir) throws Exception {
        Path tokDir = Fixtures.root().resolve("tokenizer");
        Path modelDir = Files.createDirectories(dir.resolve("model"));
        long vocab;
        try (HfTokenizer tok = HfTokenizer.load(tokDir)) {
            vocab = tok.vocabSize();
        }
        PreTrainedModel m = AutoModelForCausalLM.fromConfig(ModelConfig.parse("{\"model_type\": \"llama\","
                + " \"vocab_size\": " + vocab + ", \"hidden_size\": 32, \"intermediate_size\": 64,"
                + " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
                + " \"max_position_embeddings\": 256, \"bos_token_id\": 0, \"eos_token_id\": 2}"));
        m.initWeights(7, 0.5);
        m.savePretrained(modelDir);
        for (String f : new String[] {"tokenizer.json", "tokenizer_config.json"}) {
            Files.copy(tokDir.resolve(f), modelDir.resolve(f));
        }
        Path adapterDir = dir.resolve("adapter");
        LoraConfig cfg = LoraConfig.builder().taskType(TaskType.CAUSAL_LM).r(8).loraAlpha(64)
                .targetModules("q_proj", "v_proj", "o_proj", "down_proj").initLoraWeights(false).build();
        Peft.getPeftModel(AutoModelForCausalLM.fromPretrained(modelDir), cfg).savePretrained(adapterDir);

        AdapterInference.Result r = AdapterInference.run(modelDir, adapterDir, dir.resolve("merged"),
                "Who are you?", 12);
        assertThat(r.withAdapter()).isNotEmpty().isNotEqualTo(r.baseOnly());
        assertThat(r.merged()).isEqualTo(r.withAdapter());
        assertThat(dir.resolve("merged/model.safetensors")).exists();
        assertThat(dir.resolve("merged/tokenizer.json")).exists();
        assertThat(dir.resolve("merged/config.json")).content().contains("\"llama\"");
    }
}
