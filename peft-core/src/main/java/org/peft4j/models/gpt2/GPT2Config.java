package org.peft4j.models.gpt2;

import org.peft4j.models.ModelConfig;
import org.peft4j.models.llama.LlamaConfig;

/** Typed view of a GPT-2 config.json. */
public final class GPT2Config {
    final ModelConfig raw;
    final long vocabSize;
    final long nEmbd;
    final int nHead;
    final int nLayer;
    final long nPositions;
    final long nInner;
    final double layerNormEpsilon;
    final String activation;
    final boolean tieWordEmbeddings;
    final boolean scaleAttnWeights;
    final boolean scaleByInverseLayerIdx;
    final double residPdrop;
    final double embdPdrop;
    final double attnPdrop;

    /**
     * Reads and validates a GPT-2 config (transformers' {@code GPT2Config} defaults for absent fields).
     *
     * @param c the parsed config.json
     * @throws IllegalArgumentException naming the file and the field for a missing, mistyped or out-of-range value
     */
    public GPT2Config(ModelConfig c) {
        this.raw = c;
        int max = Integer.MAX_VALUE;
        this.vocabSize = c.getInt("vocab_size", 50257, 1, max);
        this.nEmbd = c.getInt("n_embd", 768, 1, max);
        this.nHead = c.getInt("n_head", 12, 1, max);
        this.nLayer = c.getInt("n_layer", 12, 0, max);
        this.nPositions = c.getInt("n_positions", 1024, 1, max);
        this.nInner = c.getLong("n_inner", 4 * nEmbd, 1, max);
        this.layerNormEpsilon = c.getDouble("layer_norm_epsilon", 1e-5, 0, Double.MAX_VALUE);
        this.activation = LlamaConfig.activation(c, "activation_function", "gelu_new");
        this.tieWordEmbeddings = c.getBoolean("tie_word_embeddings", true);
        this.scaleAttnWeights = c.getBoolean("scale_attn_weights", true);
        this.scaleByInverseLayerIdx = c.getBoolean("scale_attn_by_inverse_layer_idx", false);
        double belowOne = Math.nextDown(1.0);
        this.residPdrop = c.getDouble("resid_pdrop", 0.1, 0.0, belowOne);
        this.embdPdrop = c.getDouble("embd_pdrop", 0.1, 0.0, belowOne);
        this.attnPdrop = c.getDouble("attn_pdrop", 0.1, 0.0, belowOne);
        if (nEmbd % nHead != 0) {
            throw new IllegalArgumentException(c.source() + ": field 'n_embd' (" + nEmbd + ") must be divisible by "
                    + "field 'n_head' (" + nHead + ")");
        }
    }

    /**
     * The width of one attention head, {@code n_embd / n_head}.
     *
     * @return the head dimension
     */
    public long headDim() {
        return nEmbd / nHead;
    }
}
