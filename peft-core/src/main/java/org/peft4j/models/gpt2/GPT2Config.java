package org.peft4j.models.gpt2;

import org.peft4j.models.ModelConfig;

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

    public GPT2Config(ModelConfig c) {
        this.raw = c;
        this.vocabSize = c.getLong("vocab_size", 50257);
        this.nEmbd = c.getLong("n_embd", 768);
        this.nHead = c.getInt("n_head", 12);
        this.nLayer = c.getInt("n_layer", 12);
        this.nPositions = c.getLong("n_positions", 1024);
        this.nInner = c.getLong("n_inner", 4 * nEmbd);
        this.layerNormEpsilon = c.getDouble("layer_norm_epsilon", 1e-5);
        this.activation = c.getString("activation_function", "gelu_new");
        this.tieWordEmbeddings = c.getBoolean("tie_word_embeddings", true);
        this.scaleAttnWeights = c.getBoolean("scale_attn_weights", true);
        this.scaleByInverseLayerIdx = c.getBoolean("scale_attn_by_inverse_layer_idx", false);
        this.residPdrop = c.getDouble("resid_pdrop", 0.1);
        this.embdPdrop = c.getDouble("embd_pdrop", 0.1);
        this.attnPdrop = c.getDouble("attn_pdrop", 0.1);
        if (nEmbd % nHead != 0) {
            throw new IllegalArgumentException(c.source() + ": n_embd (" + nEmbd + ") must be divisible by n_head ("
                    + nHead + ")");
        }
    }

    public long headDim() {
        return nEmbd / nHead;
    }
}
