package org.peft4j.prefix;

import java.util.Map;
import org.peft4j.models.ModelConfig;
import org.peft4j.peft.config.ConfigJson;
import org.peft4j.peft.config.PeftType;
import org.peft4j.peft.config.TaskType;
import org.peft4j.peft.tuners.PromptLearningConfig;

/**
 * PEFT's {@code PrefixTuningConfig} ({@code peft_type} {@code PREFIX_TUNING}): the shared prompt-learning fields plus
 * {@code init_weights} ({@code "zero"} or null, default null), {@code encoder_hidden_size} (default null, filled with
 * {@code token_dim}) and {@code prefix_projection} (default false). JSON keys, defaults and the filling from the
 * model config are PEFT 0.21.2's. Not thread-safe.
 */
public final class PrefixTuningConfig extends PromptLearningConfig {
    private String initWeights;
    private Integer encoderHiddenSize;
    private boolean prefixProjection;

    /** A config with every field at PEFT's default ({@code num_virtual_tokens} must still be set). */
    public PrefixTuningConfig() {
        super(PeftType.PREFIX_TUNING);
    }

    /**
     * A config with {@code num_virtual_tokens} set and the rest at PEFT's defaults.
     *
     * @param numVirtualTokens {@code num_virtual_tokens}: the prefix length per layer
     */
    public PrefixTuningConfig(int numVirtualTokens) {
        this();
        this.numVirtualTokens = numVirtualTokens;
    }

    /**
     * {@code task_type}.
     *
     * @param type PEFT's {@code task_type} (such as {@code CAUSAL_LM}), or null
     * @return this config
     */
    public PrefixTuningConfig taskType(TaskType type) {
        this.taskType = type;
        return this;
    }

    /**
     * {@code init_weights}: {@code "zero"} makes the prefix zeros (with the projection: its last Linear).
     *
     * @return {@code "zero"}, or null (default: random)
     */
    public String initWeights() {
        return initWeights;
    }

    /**
     * Sets {@code init_weights} ({@code "zero"} or null).
     *
     * @param v {@code "zero"}, or null for PEFT's random initialisation
     * @return this config
     */
    public PrefixTuningConfig initWeights(String v) {
        this.initWeights = v;
        return this;
    }

    /**
     * {@code encoder_hidden_size}: the projection's hidden size; null until prepared (then {@code token_dim}).
     *
     * @return the hidden size, or null
     */
    public Integer encoderHiddenSize() {
        return encoderHiddenSize;
    }

    /**
     * Sets {@code encoder_hidden_size} (null: {@code token_dim}).
     *
     * @param v the projection's hidden size, or null
     * @return this config
     */
    public PrefixTuningConfig encoderHiddenSize(Integer v) {
        this.encoderHiddenSize = v;
        return this;
    }

    /**
     * {@code prefix_projection}: whether the prefix goes through Linear-Tanh-Linear (training only).
     *
     * @return whether the prefix is reparameterised (default false)
     */
    public boolean prefixProjection() {
        return prefixProjection;
    }

    /**
     * Sets {@code prefix_projection}.
     *
     * @param v true to train the prefix through the projection
     * @return this config
     */
    public PrefixTuningConfig prefixProjection(boolean v) {
        this.prefixProjection = v;
        return this;
    }

    /**
     * {@code token_dim}, normally filled from the model config.
     *
     * @param v the base model's hidden size, or null to take it from the model
     * @return this config
     */
    public PrefixTuningConfig tokenDim(Integer v) {
        this.tokenDim = v;
        return this;
    }

    /**
     * {@code num_layers}, normally filled from the model config.
     *
     * @param v the base model's layer count, or null to take it from the model
     * @return this config
     */
    public PrefixTuningConfig numLayers(Integer v) {
        this.numLayers = v;
        return this;
    }

    /**
     * {@code num_attention_heads}, normally filled from the model config.
     *
     * @param v the base model's attention head count, or null to take it from the model
     * @return this config
     */
    public PrefixTuningConfig numAttentionHeads(Integer v) {
        this.numAttentionHeads = v;
        return this;
    }

    /**
     * PEFT's {@code _prepare_prompt_learning_config}: the shared fields, then for a model with
     * {@code num_key_value_heads} (grouped-query attention) {@code token_dim = head_dim * num_key_value_heads} and
     * {@code num_attention_heads = num_key_value_heads} ({@code head_dim} from the config, else
     * {@code token_dim // num_attention_heads}), then {@code encoder_hidden_size} defaults to {@code token_dim}.
     */
    @Override
    public void prepareFor(ModelConfig model) {
        super.prepareFor(model);
        if (model.containsKey("num_key_value_heads")) {
            int headDim = model.has("head_dim") ? model.getInt("head_dim") : tokenDim / numAttentionHeads;
            int kvHeads = model.getInt("num_key_value_heads");
            tokenDim = headDim * kvHeads;
            numAttentionHeads = kvHeads;
        } else if ("chatglm".equals(model.modelType())) {
            // PEFT sizes chatglm's prefix as num_attention_heads heads of hidden_size // heads, which
            // modeling_chatglm's multi-query cache ([seq, batch, multi_query_group_num, kv_channels]) cannot take;
            // peft4j sizes it to the cache the model keeps: multi_query_group_num heads of kv_channels
            int heads = model.getBoolean("multi_query_attention", false)
                    ? model.getInt("multi_query_group_num", 1) : numAttentionHeads;
            int headDim = model.has("kv_channels") ? model.getInt("kv_channels") : tokenDim / numAttentionHeads;
            tokenDim = headDim * heads;
            numAttentionHeads = heads;
        }
        if (encoderHiddenSize == null) {
            encoderHiddenSize = tokenDim;
        }
    }

    /**
     * Parses {@code adapter_config.json}; unknown keys are ignored with PEFT's warning.
     *
     * @param j the {@code adapter_config.json} object
     * @return the config
     */
    public static PrefixTuningConfig fromJson(ConfigJson j) {
        PrefixTuningConfig c = new PrefixTuningConfig();
        c.readPromptLearning(j);
        c.initWeights = j.string("init_weights", null);
        c.encoderHiddenSize = j.value("encoder_hidden_size") == null ? null : j.integer("encoder_hidden_size", 0);
        c.prefixProjection = j.bool("prefix_projection", false);
        warnUnknown(j, PrefixTuningConfig.class);
        return c;
    }

    @Override
    public PrefixTuningConfig copy() {
        PrefixTuningConfig c = new PrefixTuningConfig();
        copyPromptLearningTo(c);
        c.initWeights = initWeights;
        c.encoderHiddenSize = encoderHiddenSize;
        c.prefixProjection = prefixProjection;
        return c;
    }

    @Override
    protected Map<String, Object> methodFields() {
        Map<String, Object> m = promptLearningFields();
        m.put("init_weights", initWeights);
        m.put("encoder_hidden_size", encoderHiddenSize);
        m.put("prefix_projection", prefixProjection);
        return m;
    }
}
