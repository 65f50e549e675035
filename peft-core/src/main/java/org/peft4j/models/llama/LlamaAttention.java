package org.peft4j.models.llama;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.AttentionOps;
import org.peft4j.models.DecoderContext;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.nn.RMSNorm;
import org.peft4j.tensor.DType;

/**
 * Grouped-query self-attention with rotary embeddings: q_proj, k_proj, v_proj, o_proj (and Qwen3's per-head q_norm,
 * k_norm).
 */
public class LlamaAttention extends Module {
    private final int numHeads;
    private final int numKvHeads;
    private final long headDim;
    private final LlamaConfig config;

    LlamaAttention(LlamaConfig c, DType dtype) {
        this.config = c;
        this.numHeads = c.numHeads;
        this.numKvHeads = c.numKvHeads;
        this.headDim = c.headDim;
        registerModule("q_proj", new Linear(c.hiddenSize, numHeads * headDim, c.qkvBias, dtype));
        registerModule("k_proj", new Linear(c.hiddenSize, numKvHeads * headDim, c.qkvBias, dtype));
        registerModule("v_proj", new Linear(c.hiddenSize, numKvHeads * headDim, c.qkvBias, dtype));
        registerModule("o_proj", new Linear(numHeads * headDim, c.hiddenSize, c.attentionBias, dtype));
        if (c.qkNorm) {
            registerModule("q_norm", new RMSNorm(headDim, c.rmsNormEps, dtype));
            registerModule("k_norm", new RMSNorm(headDim, c.rmsNormEps, dtype));
        }
    }

    /** Emits attention for hidden states [B, T, hidden], reading and extending the cache in {@code ctx}. */
    Value forward(Graph g, Value hidden, DecoderContext ctx, int layerIdx) {
        Value q = AttentionOps.splitHeads(g, layer("q_proj").forward(g, hidden), numHeads, headDim);
        Value k = AttentionOps.splitHeads(g, layer("k_proj").forward(g, hidden), numKvHeads, headDim);
        Value v = AttentionOps.splitHeads(g, layer("v_proj").forward(g, hidden), numKvHeads, headDim);
        if (config.qkNorm) {
            // Qwen3: q_norm / k_norm over head_dim of [B, T, H, D]; the same values on [B, H, T, D], normalised as
            // [B, H*T, D]: ONNX Runtime 1.29's CPU session fails ("Squeeze: axis 1 is not in valid range") on the
            // training graph of a rank-4 RMSNorm whose weight is a frozen initializer (LoRA training); rank 3 runs
            q = headNorm(g, "q_norm", q, numHeads);
            k = headNorm(g, "k_norm", k, numKvHeads);
        }
        q = LlamaRotaryEmbedding.apply(g, q, ctx.cos(), ctx.sin(), headDim);
        k = LlamaRotaryEmbedding.apply(g, k, ctx.cos(), ctx.sin(), headDim);
        Value[] kv = ctx.withCache(g, layerIdx, k, v);
        long nRep = numHeads / numKvHeads;
        Value kr = AttentionOps.repeatKv(g, kv[0], numKvHeads, nRep, headDim);
        Value vr = AttentionOps.repeatKv(g, kv[1], numKvHeads, nRep, headDim);
        Value out = AttentionOps.attend(g, q, kr, vr, allowed(g, ctx, layerIdx), 1.0 / Math.sqrt(headDim));
        return layer("o_proj").forward(g, AttentionOps.mergeHeads(g, out, numHeads, headDim));
    }

    /** RMSNorm {@code name} over the last axis of x [B, heads, T, D]. */
    private Value headNorm(Graph g, String name, Value x, long heads) {
        Value flat = g.reshape(x, 0, -1, headDim);
        return g.reshape(layer(name).forward(g, flat), 0, heads, -1, headDim);
    }

    /** The causal mask, or for a {@code sliding_attention} layer the sliding-window one. */
    private Value allowed(Graph g, DecoderContext ctx, int layerIdx) {
        if (!LlamaConfig.SLIDING_ATTENTION.equals(config.layerTypes.get(layerIdx))) {
            return ctx.allowed();
        }
        if (config.slidingWindow == null) {
            throw new IllegalArgumentException("Could not find a `sliding_window` argument in the config, or it is "
                    + "not set");
        }
        return ctx.allowed(g, config.slidingWindow);
    }
}
