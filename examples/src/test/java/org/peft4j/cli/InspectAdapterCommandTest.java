package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.peft4j.testutil.Fixtures;

/**
 * {@code peft4j inspect --adapter} on adapters saved by PEFT 0.21.2: the prompt-learning adapter's method and sizes
 * as in its {@code adapter_config.json}, and the parameter counts PEFT's {@code get_nb_trainable_parameters} gives
 * for the same config ({@code interop/fixtures/battery/cases.json}, the fixtures' {@code case.json}); a LoRA
 * adapter selects its own target modules.
 */
class InspectAdapterCommandTest {
    private static JsonObject battery(String name) throws Exception {
        return Fixtures.json(Fixtures.root().resolve("battery").resolve("cases.json")).getAsJsonObject("cases")
                .getAsJsonObject(name);
    }

    private static CliFixtures.Run inspect(String model, Path adapter) {
        CliFixtures.Run r = CliFixtures.run("inspect", "--model", Fixtures.model(model).toString(), "--adapter",
                adapter.toString());
        assertThat(r.exitCode()).as(r.toString()).isZero();
        return r;
    }

    @Test
    void prefixTuningWithProjectionSavedByPeft() throws Exception {
        Path adapter = Fixtures.root().resolve("prefix/gpt2-projection/adapter");
        CliFixtures.Run r = inspect("gpt2", adapter);
        // the same config as the battery's prefix-proj-gpt2 (num_virtual_tokens=3, encoder_hidden_size=16)
        String peftLine = battery("prefix-proj-gpt2").get("line").getAsString();
        assertThat(peftLine).startsWith("trainable params: 2,800 ");
        assertThat(r.out()).contains("adapter: " + adapter + " (PREFIX_TUNING)")
                .contains("method: PREFIX_TUNING\nnum_virtual_tokens: 3\ntoken_dim: 32\nnum_layers: 2\n")
                .contains("prefix_projection: true\nencoder_hidden_size: 16\n")
                .contains("saved tensors: 1 (384 values): prompt_embeddings [3, 128]")
                .contains("training (get_peft_model): " + peftLine + "\n")
                .doesNotContain("modules selected");
    }

    @Test
    void pTuningLstmOnGqaLlamaSavedByPeft() throws Exception {
        Path adapter = Fixtures.root().resolve("ptune/ptun-lstm-llama/adapter");
        CliFixtures.Run r = inspect("llama-gqa", adapter);
        // the battery's ptun-lstm-llama-gqa has this adapter's config (4 tokens, encoder_hidden_size 16, LSTM)
        String peftLine = battery("ptun-lstm-llama-gqa").get("line").getAsString();
        assertThat(r.out()).contains("method: P_TUNING\nnum_virtual_tokens: 4\ntoken_dim: 96\nnum_layers: 2\n")
                .contains("encoder_hidden_size: 16\nencoder_reparameterization_type: LSTM\nencoder_num_layers: 2\n")
                .contains("saved tensors: 1 (384 values): prompt_embeddings [4, 96]")
                .contains("training (get_peft_model): " + peftLine + "\n");
    }

    @Test
    void promptTuningWithTextInitNeedsNoTokenizer() throws Exception {
        Path adapter = Fixtures.root().resolve("ptune/pt-text-gpt2/adapter");
        CliFixtures.Run r = inspect("gpt2", adapter);
        // PEFT's prompt-gpt2 (4 tokens x 32): base = 35,840 - 128; here 6 tokens x 32 = 192 trainable
        long base = battery("prompt-gpt2").get("all").getAsLong() - battery("prompt-gpt2").get("trainable").getAsLong();
        assertThat(r.out()).contains("method: PROMPT_TUNING\nnum_virtual_tokens: 6\ntoken_dim: 32\n")
                .contains("prompt_tuning_init: TEXT\nprompt_tuning_init_text: abc\n")
                .contains(String.format(java.util.Locale.ROOT, "trainable params: 192 || all params: %,d ||",
                        base + 192));
    }

    @Test
    void loraAdapterSelectsItsOwnTargets() throws Exception {
        Path dir = Fixtures.root().resolve("lora/default-targets");
        JsonObject c = Fixtures.json(dir.resolve("case.json"));
        CliFixtures.Run r = inspect("qwen2", dir.resolve("adapter"));
        long trainable = c.get("trainable_params").getAsLong();
        assertThat(r.out()).contains("(LORA)").contains("4 modules selected")
                .contains(String.format(java.util.Locale.ROOT, "LoRA r=8 adds %,d trainable parameters", trainable))
                .containsPattern("\\* model\\.layers\\.1\\.self_attn\\.v_proj +Linear");
    }
}
