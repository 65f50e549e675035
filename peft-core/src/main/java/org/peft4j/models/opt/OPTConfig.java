package org.peft4j.models.opt;

import org.peft4j.models.DecoderConfig;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.llama.LlamaConfig;

/** Typed view of an OPT config.json ({@code model_type} opt), with transformers' {@code OPTConfig} defaults. */
public final class OPTConfig implements DecoderConfig {
    final ModelConfig raw;
    final long vocabSize;
    /** {@code pad_token_id}: the embedding's {@code padding_idx} (no gradient), or null. */
    final Long padTokenId;
    final long hiddenSize;
    final long ffnDim;
    final int numLayers;
    final int numHeads;
    final long maxPositionEmbeddings;
    final long wordEmbedProjDim;
    final boolean doLayerNormBefore;
    final boolean removeFinalLayerNorm;
    final boolean enableBias;
    final boolean tieWordEmbeddings;
    final String activation;
    final double dropout;
    final double attentionDropout;

    /**
     * Reads and validates an OPT config (transformers' {@code OPTConfig} defaults for absent fields).
     *
     * @param c the parsed config.json
     * @throws IllegalArgumentException naming the file and the field for a missing, mistyped or out-of-range value
     */
    public OPTConfig(ModelConfig c) {
        this.raw = c;
        int max = Integer.MAX_VALUE;
        this.vocabSize = c.getInt("vocab_size", 50272, 1, max);
        this.padTokenId = c.has("pad_token_id") ? c.getLong("pad_token_id", -vocabSize, vocabSize - 1) : null;
        this.hiddenSize = c.getInt("hidden_size", 768, 1, max);
        this.ffnDim = c.getInt("ffn_dim", 3072, 1, max);
        this.numLayers = c.getInt("num_hidden_layers", 12, 0, max);
        this.numHeads = c.getInt("num_attention_heads", 12, 1, max);
        this.maxPositionEmbeddings = c.getInt("max_position_embeddings", 2048, 1, max - 2);
        this.wordEmbedProjDim = c.has("word_embed_proj_dim") ? c.getInt("word_embed_proj_dim", 1, max) : hiddenSize;
        this.doLayerNormBefore = c.getBoolean("do_layer_norm_before", true);
        this.removeFinalLayerNorm = c.getBoolean("_remove_final_layer_norm", false);
        this.enableBias = c.getBoolean("enable_bias", true);
        this.tieWordEmbeddings = c.getBoolean("tie_word_embeddings", true);
        this.activation = LlamaConfig.activation(c, "activation_function", "relu");
        double belowOne = Math.nextDown(1.0);
        this.dropout = c.getDouble("dropout", 0.1, 0.0, belowOne);
        this.attentionDropout = c.getDouble("attention_dropout", 0.0, 0.0, belowOne);
        if (!c.getBoolean("layer_norm_elementwise_affine", true)) {
            throw new IllegalArgumentException(c.source() + ": field 'layer_norm_elementwise_affine': false is not "
                    + "supported (layer norms without weight and bias)");
        }
        if (hiddenSize % numHeads != 0) {
            throw new IllegalArgumentException(c.source() + ": embed_dim must be divisible by num_heads (got "
                    + "`embed_dim`: " + hiddenSize + " and `num_heads`: " + numHeads + ").");
        }
    }

    @Override
    public long headDim() {
        return hiddenSize / numHeads;
    }

    /** Whether the decoder has {@code project_in} / {@code project_out} ({@code word_embed_proj_dim != hidden_size}). */
    public boolean projects() {
        return wordEmbedProjDim != hiddenSize;
    }

    /** Whether the decoder has a {@code final_layer_norm} (pre-norm models not saved before transformers 4.20.1). */
    public boolean hasFinalLayerNorm() {
        return doLayerNormBefore && !removeFinalLayerNorm;
    }

    /** {@code num_hidden_layers}. */
    @Override
    public int numLayers() {
        return numLayers;
    }

    /** {@code num_attention_heads} (OPT has no grouped-query attention). */
    @Override
    public int numKvHeads() {
        return numHeads;
    }

    /** {@code vocab_size}. */
    @Override
    public long vocabSize() {
        return vocabSize;
    }

    /** {@code hidden_size} (the token embeddings are {@code word_embed_proj_dim} wide, which differs for opt-350m). */
    @Override
    public long hiddenSize() {
        return hiddenSize;
    }

    /** {@code tie_word_embeddings}. */
    @Override
    public boolean tieWordEmbeddings() {
        return tieWordEmbeddings;
    }
}
