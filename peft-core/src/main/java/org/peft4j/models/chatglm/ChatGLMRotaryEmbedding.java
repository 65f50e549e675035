package org.peft4j.models.chatglm;

import java.util.Map;
import java.util.Set;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * ChatGLM's {@code RotaryEmbedding}: rotates the first half of each head ({@code kv_channels / 2} dims) in
 * interleaved pairs {@code (x[2i], x[2i+1])}, leaving the rest unchanged, with base {@code 10000 * rope_ratio}. The
 * checkpoint's {@code inv_freq} buffer is saved and accepted on load (the model recomputes the frequencies, as
 * modeling_chatglm does).
 */
public class ChatGLMRotaryEmbedding extends Module {
    private final int rotDim;
    private final double base;
    private final DType dtype;

    ChatGLMRotaryEmbedding(ChatGLMConfig c, DType dtype) {
        this.rotDim = (int) (c.kvChannels / 2);
        this.base = 10000.0 * c.ropeRatio;
        this.dtype = dtype;
    }

    /** The number of rotated dims of each head ({@code kv_channels / 2}). */
    public int rotaryDim() {
        return rotDim;
    }

    /** {@code 1 / base^(2i / rot)} for {@code i < rot / 2}, in float32 as modeling_chatglm computes it. */
    float[] theta() {
        float[] t = new float[rotDim / 2];
        for (int i = 0; i < t.length; i++) {
            t[i] = 1.0f / (float) Math.pow(base, (float) (2 * i) / (float) rotDim);
        }
        return t;
    }

    /** The {@code inv_freq} buffer as the checkpoint holds it (computed with base 10000, in the model dtype). */
    @Override
    protected Map<String, Tensor> extraState() {
        float[] inv = new float[rotDim / 2];
        for (int i = 0; i < inv.length; i++) {
            inv[i] = 1.0f / (float) Math.pow(10000.0, (float) (2 * i) / (float) rotDim);
        }
        Tensor t = Tensor.of(inv, inv.length);
        return Map.of("inv_freq", dtype == DType.F32 ? t : t.to(dtype));
    }

    @Override
    protected Set<String> loadOwnState(String prefix, Map<String, Tensor> entries) {
        Tensor t = entries.get("inv_freq");
        if (t == null) {
            return Set.of();
        }
        if (t.shape().length != 1 || t.shape()[0] != rotDim / 2) {
            throw new IllegalArgumentException("size mismatch for " + prefix + "inv_freq: copying a param with shape "
                    + java.util.Arrays.toString(t.shape()) + ", the shape in current model is [" + rotDim / 2 + "]");
        }
        return Set.of("inv_freq");
    }

    /** cos and sin [B', 1, T, rot/2, 1] for int64 positions [B', T], in {@code dtype}. */
    Value[] cosSin(Graph g, Value positions) {
        DType compute = dtype == DType.F64 ? DType.F64 : DType.F32;
        float[] th = theta();
        Tensor inv;
        if (compute == DType.F64) {
            double[] d = new double[th.length];
            for (int i = 0; i < d.length; i++) {
                d[i] = th[i];
            }
            inv = Tensor.of(d, d.length);
        } else {
            inv = Tensor.of(th, th.length);
        }
        Value pos = g.unsqueeze(g.cast(positions, compute), -1);                  // [B',T,1]
        Value freqs = g.mul(pos, g.constant(inv));                                // [B',T,rot/2]
        Value cos = g.unsqueeze(g.cast(g.cos(freqs), dtype), 1, 4);               // [B',1,T,rot/2,1]
        Value sin = g.unsqueeze(g.cast(g.sin(freqs), dtype), 1, 4);
        return new Value[] {cos, sin};
    }

    /** modeling_chatglm's {@code apply_rotary_pos_emb} for x [B, H, T, D]. */
    static Value apply(Graph g, Value x, Value cos, Value sin, long headDim, int rotDim) {
        Value rot = g.slice(x, new long[] {0}, new long[] {rotDim}, new long[] {-1});
        Value pairs = g.reshape(rot, 0, 0, 0, rotDim / 2, 2);                     // [B,H,T,rot/2,2]
        Value x0 = g.slice(pairs, new long[] {0}, new long[] {1}, new long[] {-1});
        Value x1 = g.slice(pairs, new long[] {1}, new long[] {2}, new long[] {-1});
        Value o0 = g.sub(g.mul(x0, cos), g.mul(x1, sin));
        Value o1 = g.add(g.mul(x1, cos), g.mul(x0, sin));
        Value out = g.reshape(g.concat(-1, o0, o1), 0, 0, 0, rotDim);
        if (rotDim == headDim) {
            return out;
        }
        Value pass = g.slice(x, new long[] {rotDim}, new long[] {headDim}, new long[] {-1});
        return g.concat(-1, out, pass);
    }
}
