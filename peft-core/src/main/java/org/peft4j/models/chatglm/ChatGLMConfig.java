package org.peft4j.models.chatglm;

import org.peft4j.models.ModelConfig;

/**
 * Typed view of a ChatGLM2 / ChatGLM3 config.json ({@code model_type} {@code chatglm}, THUDM's
 * {@code configuration_chatglm.ChatGLMConfig}), with the same defaults.
 */
public final class ChatGLMConfig {
    /** The model type this family implements. */
    public static final String MODEL_TYPE = "chatglm";

    final ModelConfig raw;
    final int numLayers;
    final long vocabSize;
    final long hiddenSize;
    final long ffnHiddenSize;
    final long kvChannels;
    final int numHeads;
    final boolean multiQueryAttention;
    final int multiQueryGroupNum;
    final double layernormEpsilon;
    final boolean rmsnorm;
    final boolean applyResidualConnectionPostLayernorm;
    final boolean postLayerNorm;
    final boolean addBiasLinear;
    final boolean addQkvBias;
    final double attentionDropout;
    final double ropeRatio;
    final long seqLength;

    /**
     * Reads a {@code chatglm} config.
     *
     * @throws IllegalArgumentException naming the file and field for a missing or invalid value
     */
    public ChatGLMConfig(ModelConfig c) {
        this.raw = c;
        if (!MODEL_TYPE.equals(c.modelType())) {
            throw new IllegalArgumentException(c.source() + ": model_type '" + c.modelType()
                    + "' is not the ChatGLM type 'chatglm'");
        }
        this.numLayers = c.getInt("num_layers", 28, 0, Integer.MAX_VALUE);
        this.vocabSize = c.getInt("padded_vocab_size", 65024, 1, Integer.MAX_VALUE);
        this.hiddenSize = c.getInt("hidden_size", 4096, 1, Integer.MAX_VALUE);
        this.ffnHiddenSize = c.getInt("ffn_hidden_size", 13696, 1, Integer.MAX_VALUE);
        this.numHeads = c.getInt("num_attention_heads", 32, 1, Integer.MAX_VALUE);
        this.kvChannels = c.has("kv_channels") ? c.getInt("kv_channels", 1, Integer.MAX_VALUE) : hiddenSize / numHeads;
        this.multiQueryAttention = c.getBoolean("multi_query_attention", false);
        int groups = c.getInt("multi_query_group_num", 1, 1, Integer.MAX_VALUE);
        this.multiQueryGroupNum = multiQueryAttention ? groups : numHeads;
        if (numHeads % multiQueryGroupNum != 0) {
            throw new IllegalArgumentException(c.source() + ": num_attention_heads (" + numHeads
                    + ") must be a multiple of multi_query_group_num (" + multiQueryGroupNum + ")");
        }
        if (kvChannels % 4 != 0) {
            throw new IllegalArgumentException(c.source() + ": field 'kv_channels': expected a multiple of 4 (rotary "
                    + "embedding on half of each head, in pairs), got " + kvChannels);
        }
        this.layernormEpsilon = c.getDouble("layernorm_epsilon", 1e-5, 0, Double.MAX_VALUE);
        this.rmsnorm = c.getBoolean("rmsnorm", true);
        this.applyResidualConnectionPostLayernorm = c.getBoolean("apply_residual_connection_post_layernorm", false);
        this.postLayerNorm = c.getBoolean("post_layer_norm", true);
        this.addBiasLinear = c.getBoolean("add_bias_linear", false);
        this.addQkvBias = c.getBoolean("add_qkv_bias", false);
        this.attentionDropout = c.getDouble("attention_dropout", 0.0, 0.0, Math.nextDown(1.0));
        this.ropeRatio = c.getDouble("rope_ratio", 1.0, Double.MIN_VALUE, Double.MAX_VALUE);
        this.seqLength = c.getInt("seq_length", 2048, 1, Integer.MAX_VALUE);
    }

    /**
     * The config.json this was read from.
     *
     * @return the raw config
     */
    public ModelConfig raw() {
        return raw;
    }

    /**
     * {@code num_layers}.
     *
     * @return the number of decoder layers
     */
    public int numLayers() {
        return numLayers;
    }

    /** {@code padded_vocab_size}: the rows of the embedding and of {@code output_layer}. */
    public long vocabSize() {
        return vocabSize;
    }

    /**
     * {@code hidden_size}: the width of the residual stream.
     *
     * @return the hidden size
     */
    public long hiddenSize() {
        return hiddenSize;
    }

    /** {@code kv_channels}: the size of each attention head. */
    public long kvChannels() {
        return kvChannels;
    }

    /**
     * {@code num_attention_heads}: query heads per layer.
     *
     * @return the number of heads
     */
    public int numHeads() {
        return numHeads;
    }

    /** The key/value heads: {@code multi_query_group_num} with multi-query attention, else the attention heads. */
    public int numKvHeads() {
        return multiQueryGroupNum;
    }

    /** {@code rope_ratio} (ChatGLM3 32k/128k variants): the rotary base is {@code 10000 * rope_ratio}. */
    public double ropeRatio() {
        return ropeRatio;
    }
}
