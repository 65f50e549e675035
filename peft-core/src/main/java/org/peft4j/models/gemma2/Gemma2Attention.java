package org.peft4j.models.gemma2;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.AttentionOps;
import org.peft4j.models.DecoderContext;
import org.peft4j.models.llama.LlamaConfig;
import org.peft4j.models.llama.LlamaRotaryEmbedding;
import org.peft4j.nn.Functional;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;

/**
 * Gemma 2 grouped-query self-attention (q_proj, k_proj, v_proj, o_proj) with rotary embeddings, the scale
 * {@code query_pre_attn_scalar ** -0.5}, soft-capped scores ({@code tanh(s / cap) * cap} before the mask) and, on
 * {@code sliding_attention} layers, the sliding-window mask.
 */
public class Gemma2Attention extends Module {
    private final Gemma2Config config;

    Gemma2Attention(Gemma2Config c, DType dtype) {
        this.config = c;
        registerModule("q_proj", new Linear(c.hiddenSize, c.numHeads * c.headDim, c.attentionBias, dtype));
        registerModule("k_proj", new Linear(c.hiddenSize, c.numKvHeads * c.headDim, c.attentionBias, dtype));
        registerModule("v_proj", new Linear(c.hiddenSize, c.numKvHeads * c.headDim, c.attentionBias, dtype));
        registerModule("o_proj", new Linear(c.numHeads * c.headDim, c.hiddenSize, c.attentionBias, dtype));
    }

    Value forward(Graph g, Value hidden, DecoderContext ctx, int layerIdx) {
        Gemma2Config c = config;
        Value q = AttentionOps.splitHeads(g, layer("q_proj").forward(g, hidden), c.numHeads, c.headDim);
        Value k = AttentionOps.splitHeads(g, layer("k_proj").forward(g, hidden), c.numKvHeads, c.headDim);
        Value v = AttentionOps.splitHeads(g, layer("v_proj").forward(g, hidden), c.numKvHeads, c.headDim);
        q = LlamaRotaryEmbedding.apply(g, q, ctx.cos(), ctx.sin(), c.headDim);
        k = LlamaRotaryEmbedding.apply(g, k, ctx.cos(), ctx.sin(), c.headDim);
        Value[] kv = ctx.withCache(g, layerIdx, k, v);
        long nRep = c.numHeads / c.numKvHeads;
        Value kr = AttentionOps.repeatKv(g, kv[0], c.numKvHeads, nRep, c.headDim);
        Value vr = AttentionOps.repeatKv(g, kv[1], c.numKvHeads, nRep, c.headDim);
        Value out = attend(g, q, kr, vr, allowed(g, ctx, layerIdx), Math.pow(c.queryPreAttnScalar, -0.5),
                c.attnLogitSoftcapping);
        return layer("o_proj").forward(g, AttentionOps.mergeHeads(g, out, c.numHeads, c.headDim));
    }

    /**
     * Gemma 2's {@code eager_attention_forward}: {@code q k^T * scale}, soft-capped when {@code softcap} is set, the
     * additive mask, softmax in float32 (for half-precision scores; cast back to q's dtype), times v.
     */
    static Value attend(Graph g, Value q, Value k, Value v, Value allowed, double scale, Double softcap) {
        Value scores = g.mulScalar(g.matmul(q, g.transpose(k, 0, 1, 3, 2)), scale);
        if (softcap != null) {
            scores = softcap(g, scores, softcap);
        }
        Value masked = g.add(scores, AttentionOps.additiveMask(g, allowed, scores.dtype()));
        Value probs = Functional.isHalf(masked.dtype())
                ? g.cast(g.softmax(g.cast(masked, DType.F32), -1), q.dtype())
                : g.softmax(masked, -1);
        return g.matmul(probs, v);
    }

    /** {@code tanh(x / cap) * cap} in x's dtype. */
    static Value softcap(Graph g, Value x, double cap) {
        return g.mulScalar(g.tanh(g.div(x, g.scalar(cap, x.dtype()))), cap);
    }

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
