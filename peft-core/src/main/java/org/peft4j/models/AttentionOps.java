package org.peft4j.models;

import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Shape;
import org.peft4j.graph.Value;
import org.peft4j.nn.Layer;
import org.peft4j.tensor.DType;

/** Attention building blocks shared by the model families (eager attention, as transformers computes it). */
public final class AttentionOps {
    private AttentionOps() {
    }

    /** The most negative finite value of a float dtype ({@code torch.finfo(dtype).min}). */
    public static double minValue(DType t) {
        switch (t) {
            case F64: return -Double.MAX_VALUE;
            case F16: return -65504.0;
            case BF16: return -3.3895313892515355e38;
            default: return -Float.MAX_VALUE;
        }
    }

    /**
     * Which keys each query may attend to, as a bool [batch or 1, 1, seq, past + seq] value: key {@code j} is
     * visible to query {@code i} when {@code j <= past + i} and, with a mask, {@code attentionMask[b, j] == 1}.
     *
     * @param seqLen rank-0 int64, the number of new tokens
     * @param pastLen rank-0 int64, the number of cached positions
     * @param attentionMask int64 [batch, past + seq] or null
     */
    public static Value allowedMask(Graph g, Value seqLen, Value pastLen, Value attentionMask) {
        return allowedMask(g, seqLen, pastLen, attentionMask, 0);
    }

    /**
     * As {@link #allowedMask(Graph, Value, Value, Value)}, restricted to a sliding window when
     * {@code slidingWindow > 0}: key {@code j} is visible to query {@code i} (both absolute cache indices, padding
     * included) when {@code past + i - slidingWindow < j <= past + i}, i.e. the last {@code slidingWindow} positions
     * including the query's own, as transformers' {@code sliding_window_causal_mask_function}.
     */
    public static Value allowedMask(Graph g, Value seqLen, Value pastLen, Value attentionMask, long slidingWindow) {
        Value one = g.intScalar(1);
        Value total = g.add(pastLen, seqLen);
        Value qPos = g.unsqueeze(g.range(pastLen, total, one), 1);           // [T,1]
        Value kPos = g.unsqueeze(g.range(g.intScalar(0), total, one), 0);    // [1,S]
        Value causal = g.lessOrEqual(kPos, qPos);                              // [T,S]
        if (slidingWindow > 0) {
            Value lowest = g.sub(qPos, g.intScalar(slidingWindow));           // [T,1]
            causal = g.and(causal, g.greater(kPos, lowest));                   // kv > q - window
        }
        if (attentionMask == null) {
            return g.unsqueeze(causal, 0, 1);                                  // [1,1,T,S]
        }
        Value pad = g.unsqueeze(g.cast(attentionMask, DType.BOOL), 1, 2);      // [B,1,1,S]
        return g.and(pad, causal);                                             // [B,1,T,S]
    }

    /** Default position ids {@code [1, seq]}: {@code past .. past + seq - 1}. */
    public static Value defaultPositions(Graph g, Value seqLen, Value pastLen) {
        return g.unsqueeze(g.range(pastLen, g.add(pastLen, seqLen), g.intScalar(1)), 0);
    }

    /** [B, T, H*D] to [B, H, T, D]. */
    public static Value splitHeads(Graph g, Value x, long heads, long headDim) {
        return g.transpose(g.reshape(x, 0, 0, heads, headDim), 0, 2, 1, 3);
    }

    /** [B, H, T, D] to [B, T, H*D]. */
    public static Value mergeHeads(Graph g, Value x, long heads, long headDim) {
        return g.reshape(g.transpose(x, 0, 2, 1, 3), 0, 0, heads * headDim);
    }

    /** Repeats each of the kv heads {@code nRep} times: [B, kvH, S, D] to [B, kvH*nRep, S, D]. */
    public static Value repeatKv(Graph g, Value x, long kvHeads, long nRep, long headDim) {
        if (nRep == 1) {
            return x;
        }
        Value u = g.unsqueeze(x, 2);                                           // [B,kvH,1,S,D]
        Value b = g.dimOf(x, 0);
        Value s = g.dimOf(x, 2);
        Value target = g.concat(0, g.unsqueeze(b, 0), g.ints(kvHeads, nRep), g.unsqueeze(s, 0), g.ints(headDim));
        Shape es = Shape.of(x.shape().dim(0), Dim.of(kvHeads), Dim.of(nRep), x.shape().dim(2), Dim.of(headDim));
        Value e = g.expand(u, target, es);
        return g.reshape(e, 0, kvHeads * nRep, -1, headDim);
    }

    /**
     * The additive eager mask of transformers' {@code masking_utils.eager_mask}: 0 where {@code allowed}, else
     * {@code torch.finfo(dtype).min} ({@link #minValue(DType)}), in {@code dtype} (the model's, i.e. the scores').
     */
    public static Value additiveMask(Graph g, Value allowed, DType dtype) {
        return g.where(allowed, g.scalar(0.0, dtype), g.scalar(minValue(dtype), dtype));
    }

    /**
     * {@code softmax(q k^T * scale + mask) v} as Llama's {@code eager_attention_forward} (also Mistral's and
     * Qwen2's): q [B,H,T,D], k and v [B,H,S,D], allowed bool broadcastable to [B,H,T,S]. The mask is
     * {@link #additiveMask added} to the scores in their dtype, and the softmax runs in float32 and is cast back to
     * q's dtype ({@code softmax(attn_weights, dim=-1, dtype=torch.float32).to(query.dtype)}).
     *
     * <p>Adding (rather than selecting) matters for a query whose keys are all masked, e.g. the pad positions of a
     * left-padded row: in float32 every score becomes {@code min}, the row is uniform over all keys, and the
     * gradient still reaches q and k through it, as in torch. In float16 {@code score + min} is rounded (to a
     * multiple of 32, or to -inf for scores at or below -16), so such a row is not uniform; it is computed the same
     * way here.
     */
    public static Value attend(Graph g, Value q, Value k, Value v, Value allowed, double scale) {
        return attend(g, q, k, v, allowed, scale, null, true);
    }

    /** As {@link #attend(Graph, Value, Value, Value, Value, double)}, with dropout on the attention weights. */
    public static Value attend(Graph g, Value q, Value k, Value v, Value allowed, double scale, Layer dropout) {
        return attend(g, q, k, v, allowed, scale, dropout, true);
    }

    /**
     * As {@link #attend(Graph, Value, Value, Value, Value, double)}, with dropout on the attention weights and a
     * choice of where the softmax runs: {@code softmaxInFloat32} as Llama / Mistral / Qwen2
     * ({@code softmax(dtype=torch.float32).to(query.dtype)}), otherwise in the scores' dtype as GPT-2's
     * {@code eager_attention_forward} ({@code softmax(attn_weights, dim=-1).type(value.dtype)}). One deliberate
     * difference: a float64 graph keeps its softmax in float64 (torch would round it to float32), so that float64
     * graphs stay exact enough for finite-difference gradient checks.
     */
    public static Value attend(Graph g, Value q, Value k, Value v, Value allowed, double scale, Layer dropout,
            boolean softmaxInFloat32) {
        Value scores = g.mulScalar(g.matmul(q, g.transpose(k, 0, 1, 3, 2)), scale);
        Value masked = g.add(scores, additiveMask(g, allowed, scores.dtype()));
        boolean half = masked.dtype() == DType.F16 || masked.dtype() == DType.BF16;
        Value probs = softmaxInFloat32 && half
                ? g.cast(g.softmax(g.cast(masked, DType.F32), -1), q.dtype())
                : g.cast(g.softmax(masked, -1), v.dtype());
        if (dropout != null) {
            probs = dropout.forward(g, probs);
        }
        return g.matmul(probs, v);
    }
}
