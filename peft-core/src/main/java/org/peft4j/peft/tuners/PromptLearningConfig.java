package org.peft4j.peft.tuners;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.models.ModelConfig;
import org.peft4j.peft.config.ConfigJson;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.peft.config.PeftType;
import org.peft4j.peft.config.TaskType;

/**
 * The fields every prompt-learning method shares ({@code PromptLearningConfig}): {@code num_virtual_tokens},
 * {@code token_dim}, {@code num_transformer_submodules}, {@code num_attention_heads}, {@code num_layers} and
 * {@code modules_to_save}. The model-dependent ones are filled from the base model's config when the adapter is added
 * ({@link #prepareFor}, PEFT's {@code _prepare_prompt_learning_config}). Not thread-safe.
 */
public abstract class PromptLearningConfig extends PeftConfig {
    protected Integer numVirtualTokens;
    protected Integer tokenDim;
    protected Integer numTransformerSubmodules;
    protected Integer numAttentionHeads;
    protected Integer numLayers;
    protected List<String> modulesToSave;

    protected PromptLearningConfig(PeftType type) {
        super(type);
    }

    /** {@code num_virtual_tokens}, or null when not set. */
    public Integer numVirtualTokens() {
        return numVirtualTokens;
    }

    /**
     * Sets {@code num_virtual_tokens}.
     *
     * @param v the number of virtual tokens, or null
     */
    public void setNumVirtualTokens(Integer v) {
        this.numVirtualTokens = v;
    }

    /** {@code token_dim} (the hidden size), or null until prepared. */
    public Integer tokenDim() {
        return tokenDim;
    }

    /** {@code num_transformer_submodules}: 1 for decoder-only models. */
    public Integer numTransformerSubmodules() {
        return numTransformerSubmodules;
    }

    /**
     * {@code num_attention_heads} of the base model, or null until prepared.
     *
     * @return the head count
     */
    public Integer numAttentionHeads() {
        return numAttentionHeads;
    }

    /**
     * {@code num_layers} of the base model, or null until prepared.
     *
     * @return the layer count
     */
    public Integer numLayers() {
        return numLayers;
    }

    /**
     * {@code modules_to_save}: modules trained and saved in full besides the virtual tokens, or null.
     *
     * @return the module names
     */
    public List<String> modulesToSave() {
        return modulesToSave;
    }

    /**
     * Fills the fields left null from the base model's config, as PEFT's {@code _prepare_prompt_learning_config}:
     * {@code num_layers} from {@code num_hidden_layers} ({@code n_layer}), {@code token_dim} from
     * {@code hidden_size} ({@code n_embd}), {@code num_attention_heads} from {@code num_attention_heads}
     * ({@code n_head}), {@code num_transformer_submodules} 2 for sequence-to-sequence tasks and 1 otherwise.
     *
     * @throws IllegalArgumentException if {@code num_virtual_tokens} is missing or the config lacks a size
     */
    public void prepareFor(ModelConfig model) {
        if (numVirtualTokens == null || numVirtualTokens < 1) {
            throw new IllegalArgumentException("num_virtual_tokens must be a positive integer, got "
                    + numVirtualTokens);
        }
        if (numLayers == null) {
            numLayers = firstInt(model, "num_hidden_layers", "num_layers", "n_layer");
        }
        if (tokenDim == null) {
            tokenDim = firstInt(model, "hidden_size", "n_embd", "d_model");
        }
        if (numAttentionHeads == null) {
            numAttentionHeads = firstInt(model, "num_attention_heads", "n_head", "num_heads");
        }
        if (numTransformerSubmodules == null) {
            numTransformerSubmodules = taskType() == TaskType.SEQ_2_SEQ_LM ? 2 : 1;
        }
    }

    private static int firstInt(ModelConfig c, String... keys) {
        for (String k : keys) {
            if (c.has(k)) {
                return c.getInt(k);
            }
        }
        throw new IllegalArgumentException(c.source() + ": none of " + List.of(keys) + " is set; prompt learning "
                + "needs it");
    }

    /** The shared fields for {@link #methodFields()} (snake_case keys). */
    protected Map<String, Object> promptLearningFields() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("num_virtual_tokens", numVirtualTokens);
        m.put("token_dim", tokenDim);
        m.put("num_transformer_submodules", numTransformerSubmodules);
        m.put("num_attention_heads", numAttentionHeads);
        m.put("num_layers", numLayers);
        m.put("modules_to_save", modulesToSave);
        return m;
    }

    /** Reads the shared fields (and PEFT's common ones) from a saved config. */
    protected void readPromptLearning(ConfigJson j) {
        readCommon(j);
        numVirtualTokens = intOrNull(j, "num_virtual_tokens");
        tokenDim = intOrNull(j, "token_dim");
        numTransformerSubmodules = intOrNull(j, "num_transformer_submodules");
        numAttentionHeads = intOrNull(j, "num_attention_heads");
        numLayers = intOrNull(j, "num_layers");
        List<String> m = j.strings("modules_to_save");
        modulesToSave = m == null ? null : new ArrayList<>(m);
    }

    private static Integer intOrNull(ConfigJson j, String key) {
        return j.value(key) == null ? null : j.integer(key, 0);
    }

    /** Copies the shared fields into {@code to}. */
    protected void copyPromptLearningTo(PromptLearningConfig to) {
        copyCommonTo(to);
        to.numVirtualTokens = numVirtualTokens;
        to.tokenDim = tokenDim;
        to.numTransformerSubmodules = numTransformerSubmodules;
        to.numAttentionHeads = numAttentionHeads;
        to.numLayers = numLayers;
        to.modulesToSave = modulesToSave == null ? null : new ArrayList<>(modulesToSave);
    }
}
