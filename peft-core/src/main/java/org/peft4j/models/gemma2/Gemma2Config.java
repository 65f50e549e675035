package org.peft4j.models.gemma2;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.peft4j.models.DecoderConfig;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.llama.LlamaConfig;

/**
 * Typed view of a Gemma 2 config.json ({@code model_type} gemma2), with transformers' {@code Gemma2Config} defaults
 * for absent fields (those of Gemma-2-2B: vocabulary 256000, hidden 2304, 26 layers, 8 heads, 4 key/value heads,
 * head_dim 256, query_pre_attn_scalar 256, sliding_window 4096, soft-capping 50 / 30, tied embeddings).
 */
public final class Gemma2Config implements DecoderConfig {
    /** The model type this family implements. */
    public static final String MODEL_TYPE = "gemma2";

    final ModelConfig raw;
    final long vocabSize;
    /** {@code pad_token_id}: the embedding's {@code padding_idx} (no gradient), or null. */
    final Long padTokenId;
    final long hiddenSize;
    final long intermediateSize;
    final int numLayers;
    final int numHeads;
    final int numKvHeads;
    final long headDim;
    final double rmsNormEps;
    final boolean attentionBias;
    final boolean tieWordEmbeddings;
    final String hiddenActivation;
    final double queryPreAttnScalar;
    /** {@code attn_logit_softcapping}, or null for none. */
    final Double attnLogitSoftcapping;
    /** {@code final_logit_softcapping}, or null for none. */
    final Double finalLogitSoftcapping;
    /** {@code sliding_window}, or null. */
    final Long slidingWindow;
    final List<String> layerTypes;

    /**
     * Reads and validates a Gemma 2 config (transformers' {@code Gemma2Config} defaults for absent fields).
     *
     * @param c the parsed config.json
     * @throws IllegalArgumentException naming the file and the field for a wrong {@code model_type} or a missing,
     *     mistyped or out-of-range value
     */
    public Gemma2Config(ModelConfig c) {
        this.raw = c;
        if (!MODEL_TYPE.equals(c.modelType())) {
            throw new IllegalArgumentException(c.source() + ": model_type '" + c.modelType() + "' is not gemma2");
        }
        this.vocabSize = c.getInt("vocab_size", 256000, 1, Integer.MAX_VALUE);
        this.padTokenId = c.has("pad_token_id") ? c.getLong("pad_token_id", -vocabSize, vocabSize - 1) : null;
        this.hiddenSize = c.getInt("hidden_size", 2304, 1, Integer.MAX_VALUE);
        this.intermediateSize = c.getInt("intermediate_size", 9216, 1, Integer.MAX_VALUE);
        this.numLayers = c.getInt("num_hidden_layers", 26, 0, Integer.MAX_VALUE);
        this.numHeads = c.getInt("num_attention_heads", 8, 1, Integer.MAX_VALUE);
        this.numKvHeads = c.getInt("num_key_value_heads", 4, 1, Integer.MAX_VALUE);
        this.headDim = c.getInt("head_dim", 256, 1, Integer.MAX_VALUE);
        this.rmsNormEps = c.getDouble("rms_norm_eps", 1e-6, 0, Double.MAX_VALUE);
        this.attentionBias = c.getBoolean("attention_bias", false);
        this.tieWordEmbeddings = c.getBoolean("tie_word_embeddings", true);
        this.hiddenActivation = LlamaConfig.activation(c, "hidden_activation", "gelu_pytorch_tanh");
        this.queryPreAttnScalar = c.getDouble("query_pre_attn_scalar", 256, Double.MIN_VALUE, Double.MAX_VALUE);
        this.attnLogitSoftcapping = nullableCap(c, "attn_logit_softcapping", 50.0);
        this.finalLogitSoftcapping = nullableCap(c, "final_logit_softcapping", 30.0);
        if (numHeads % numKvHeads != 0) {
            throw new IllegalArgumentException(c.source() + ": num_attention_heads (" + numHeads
                    + ") must be a multiple of num_key_value_heads (" + numKvHeads + ")");
        }
        if (hiddenSize % numHeads != 0) {
            throw new IllegalArgumentException(c.source() + ": The hidden size (" + hiddenSize + ") is not a multiple "
                    + "of the number of attention heads (" + numHeads + ").");
        }
        this.slidingWindow = !c.containsKey("sliding_window") ? Long.valueOf(4096)
                : c.has("sliding_window") ? Long.valueOf(c.getInt("sliding_window", 1, Integer.MAX_VALUE)) : null;
        this.layerTypes = layerTypes(c, numLayers);
    }

    private static Double nullableCap(ModelConfig c, String key, double dflt) {
        if (!c.containsKey(key)) {
            return dflt;
        }
        return c.has(key) ? Double.valueOf(c.getDouble(key, dflt, Double.MIN_VALUE, Double.MAX_VALUE)) : null;
    }

    /** {@code layer_types} from config.json, else transformers' default: even layers slide, odd layers are full. */
    static List<String> layerTypes(ModelConfig c, int numLayers) {
        List<String> types = c.getStrings("layer_types");
        if (types == null) {
            types = new ArrayList<>();
            for (int i = 0; i < numLayers; i++) {
                types.add((i + 1) % 2 != 0 ? LlamaConfig.SLIDING_ATTENTION : LlamaConfig.FULL_ATTENTION);
            }
        }
        if (types.size() != numLayers) {
            throw new IllegalArgumentException(c.source() + ": field 'layer_types': `num_hidden_layers` (" + numLayers
                    + ") must be equal to the number of `layer_types` (" + types.size() + ")");
        }
        for (String t : types) {
            if (!t.equals(LlamaConfig.FULL_ATTENTION) && !t.equals(LlamaConfig.SLIDING_ATTENTION)) {
                throw new IllegalArgumentException(c.source() + ": field 'layer_types': layer type '" + t
                        + "' is not supported, expected " + LlamaConfig.FULL_ATTENTION + " or "
                        + LlamaConfig.SLIDING_ATTENTION);
            }
        }
        return Collections.unmodifiableList(new ArrayList<>(types));
    }

    /**
     * The config.json this was read from.
     *
     * @return the raw config
     */
    public ModelConfig raw() {
        return raw;
    }

    @Override
    public long hiddenSize() {
        return hiddenSize;
    }

    @Override
    public long headDim() {
        return headDim;
    }

    /** The sliding attention window ({@code sliding_window}), or null. */
    public Long slidingWindow() {
        return slidingWindow;
    }

    /** Each layer's attention type, {@code full_attention} or {@code sliding_attention}. */
    public List<String> layerTypes() {
        return layerTypes;
    }

    /** {@code attn_logit_softcapping}, or null when the scores are not capped. */
    public Double attnLogitSoftcapping() {
        return attnLogitSoftcapping;
    }

    /** {@code final_logit_softcapping}, or null when the logits are not capped. */
    public Double finalLogitSoftcapping() {
        return finalLogitSoftcapping;
    }

    /** {@code num_hidden_layers}. */
    @Override
    public int numLayers() {
        return numLayers;
    }

    /** {@code num_key_value_heads}. */
    @Override
    public int numKvHeads() {
        return numKvHeads;
    }

    /** {@code vocab_size}. */
    @Override
    public long vocabSize() {
        return vocabSize;
    }

    /** {@code tie_word_embeddings}. */
    @Override
    public boolean tieWordEmbeddings() {
        return tieWordEmbeddings;
    }
}
