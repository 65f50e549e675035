package org.peft4j.cli;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftConfigs;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.peft.tuners.PromptLearningConfig;
import org.peft4j.prefix.PromptTuningConfig;
import org.peft4j.prefix.PromptTuningInit;
import org.peft4j.safetensors.SafeTensors;

/** What {@code inspect --adapter} prints about a saved adapter. */
final class AdapterInfo {
    /** Method-specific keys of the prompt-learning configs, shown when the saved config has them. */
    private static final String[] EXTRA_KEYS = {"prefix_projection", "encoder_hidden_size",
        "encoder_reparameterization_type", "encoder_num_layers", "encoder_dropout", "prompt_tuning_init",
        "prompt_tuning_init_text"};

    private AdapterInfo() {
    }

    /** The adapter's config; a folder without one is a usage error. */
    static PeftConfig load(Path dir) {
        if (!Files.isRegularFile(dir.resolve(PeftConfig.CONFIG_NAME))) {
            throw new CliException("--adapter: no " + PeftConfig.CONFIG_NAME + " in " + dir);
        }
        try {
            return PeftConfigs.fromPretrained(dir);
        } catch (IllegalArgumentException | org.peft4j.InvalidInputException | org.peft4j.FileAccessException e) {
            throw new CliException("--adapter: " + e.getMessage(), e);
        }
    }

    /** The adapter's folder, method and saved tensors. */
    static void print(PrintWriter out, Path dir, PeftConfig cfg) throws IOException {
        out.println("adapter: " + dir + " (" + cfg.peftType() + ")");
        Path weights = dir.resolve(PeftModel.SAFETENSORS_WEIGHTS_NAME);
        if (!Files.exists(weights)) {
            out.println("saved tensors: none (" + PeftModel.SAFETENSORS_WEIGHTS_NAME + " missing)");
            return;
        }
        long values = 0;
        int count = 0;
        StringBuilder list = new StringBuilder();
        try (SafeTensors st = SafeTensors.open(weights)) {
            for (String k : st.keys()) {
                long[] shape = st.get(k).shape();
                values += Arrays.stream(shape).reduce(1, (a, b) -> a * b);
                count++;
                if (count <= 4) {
                    list.append(count > 1 ? ", " : "").append(k).append(' ').append(Arrays.toString(shape));
                }
            }
        }
        out.printf(Locale.ROOT, "saved tensors: %d (%,d values)%s%n", count, values,
                count == 0 ? "" : ": " + list + (count > 4 ? ", ..." : ""));
    }

    /**
     * A prompt-learning adapter: its method and sizes (filled from the model's config as PEFT's
     * {@code _prepare_prompt_learning_config}) and the parameters {@code get_peft_model} with this config trains.
     */
    static void printPromptLearning(PrintWriter out, PreTrainedModel model, PromptLearningConfig saved) {
        PromptLearningConfig cfg = (PromptLearningConfig) saved.copy();
        cfg.setInferenceMode(false);
        if (cfg instanceof PromptTuningConfig pt && pt.promptTuningInit() == PromptTuningInit.TEXT) {
            pt.promptTuningInit(PromptTuningInit.RANDOM); // the count does not depend on the init, no tokenizer needed
        }
        cfg.prepareFor(model.config());
        out.println("method: " + cfg.peftType());
        out.println("num_virtual_tokens: " + cfg.numVirtualTokens());
        out.println("token_dim: " + cfg.tokenDim());
        out.println("num_layers: " + cfg.numLayers());
        out.println("num_attention_heads: " + cfg.numAttentionHeads());
        out.println("num_transformer_submodules: " + cfg.numTransformerSubmodules());
        JsonObject j = JsonParser.parseString(saved.toJson()).getAsJsonObject();
        for (String k : EXTRA_KEYS) {
            JsonElement v = j.get(k);
            if (v != null && !v.isJsonNull()) {
                out.println(k + ": " + (v.isJsonPrimitive() ? v.getAsString() : v.toString()));
            }
        }
        long[] n = Peft.getPeftModel(model, cfg).getNbTrainableParameters();
        out.printf(Locale.ROOT, "training (get_peft_model): trainable params: %,d || all params: %,d || "
                + "trainable%%: %.4f%n", n[0], n[1], 100.0 * n[0] / n[1]);
    }
}
