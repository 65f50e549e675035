package org.peft4j.models.phi3;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * Phi-3's rotary embedding (no parameters) over the first {@code rotary_dim} dimensions of each head. With
 * {@code longrope} it has two sets of inverse frequencies, {@code 1 / (factor_i * theta^(2i/dim))} for the short and
 * the long factors, and picks the long ones when {@code max(position_ids) + 1 > original_max_position_embeddings}, as
 * transformers' {@code dynamic_rope_update} does on every forward; cos and sin are multiplied by the attention factor.
 */
public class Phi3RotaryEmbedding extends Module {
    private final Phi3Config c;
    private final float[] shortInv;
    private final float[] longInv;

    Phi3RotaryEmbedding(Phi3Config c) {
        this.c = c;
        boolean longrope = c.ropeType.equals("longrope");
        this.shortInv = inverseFrequencies(c, longrope ? c.shortFactor : null);
        this.longInv = longrope ? inverseFrequencies(c, c.longFactor) : null;
    }

    /** {@code 1 / (ext * base^(arange(0, dim, 2) / dim))} in float32 as transformers (ext = 1 without factors). */
    static float[] inverseFrequencies(Phi3Config c, double[] ext) {
        int dim = c.rotaryDim;
        float[] inv = new float[dim / 2];
        for (int i = 0; i < inv.length; i++) {
            float exponent = (float) (2 * i) / (float) dim;
            float denom = (float) Math.pow(c.ropeTheta, exponent);
            if (ext != null) {
                denom = (float) ext[i] * denom;
            }
            inv[i] = 1.0f / denom;
        }
        return inv;
    }

    /** The short (or only) inverse frequencies. */
    public float[] shortInverseFrequencies() {
        return shortInv.clone();
    }

    /** cos and sin [B', 1, T, rotary_dim] for int64 positions [B', T], in {@code dtype}. */
    Value[] cosSin(Graph g, Value positionIds, DType dtype) {
        Value inv = g.constant(Tensor.of(shortInv.clone(), shortInv.length));
        if (longInv != null) {
            Value maxPos = g.reduceMax(g.cast(positionIds, DType.F32), false);
            Value useLong = g.greater(maxPos, g.scalar(c.originalMaxPositionEmbeddings - 0.5, DType.F32));
            inv = g.where(useLong, g.constant(Tensor.of(longInv.clone(), longInv.length)), inv);
        }
        Value pos = g.unsqueeze(g.cast(positionIds, DType.F32), -1);            // [B',T,1]
        Value freqs = g.mul(pos, inv);                                          // [B',T,D/2]
        Value emb = g.concat(-1, freqs, freqs);
        Value cos = g.cos(emb);
        Value sin = g.sin(emb);
        if (c.attentionScaling != 1.0) {
            cos = g.mulScalar(cos, c.attentionScaling);
            sin = g.mulScalar(sin, c.attentionScaling);
        }
        return new Value[] {g.unsqueeze(g.cast(cos, dtype), 1), g.unsqueeze(g.cast(sin, dtype), 1)};
    }

    /** {@code cat(x_rot * cos + rotate_half(x_rot) * sin, x_pass)} for x [B, H, T, head_dim]. */
    static Value apply(Graph g, Value x, Value cos, Value sin, long headDim, long rotaryDim) {
        Value rot = rotaryDim == headDim ? x : g.slice(x, new long[] {0}, new long[] {rotaryDim}, new long[] {-1});
        long half = rotaryDim / 2;
        Value x1 = g.slice(rot, new long[] {0}, new long[] {half}, new long[] {-1});
        Value x2 = g.slice(rot, new long[] {half}, new long[] {rotaryDim}, new long[] {-1});
        Value rotated = g.add(g.mul(rot, cos), g.mul(g.concat(-1, g.neg(x2), x1), sin));
        if (rotaryDim == headDim) {
            return rotated;
        }
        Value pass = g.slice(x, new long[] {rotaryDim}, new long[] {headDim}, new long[] {-1});
        return g.concat(-1, rotated, pass);
    }
}
