package org.peft4j.models.llama;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * Rotary position embedding (no parameters): inverse frequencies for {@code default}, {@code linear} and
 * {@code llama3} rope scaling, and the cos/sin tables for given positions.
 */
public class LlamaRotaryEmbedding extends Module {
    private final double[] invFreq;

    LlamaRotaryEmbedding(LlamaConfig.RopeSettings rope, long headDim) {
        this.invFreq = inverseFrequencies(rope, headDim);
    }

    /**
     * The rotary embedding of another family's config, read as Llama reads it ({@code rope_theta} /
     * {@code rope_scaling} or {@code rope_parameters}; default, linear and llama3 types).
     *
     * @throws IllegalArgumentException naming the file and the field for an unsupported or incomplete rope setting
     */
    protected LlamaRotaryEmbedding(org.peft4j.models.ModelConfig config, long headDim) {
        this(LlamaConfig.RopeSettings.from(config, headDim), headDim);
    }

    /** The inverse frequencies, computed in float32 as transformers does. */
    static double[] inverseFrequencies(LlamaConfig.RopeSettings rope, long dim) {
        int half = (int) (dim / 2);
        float[] inv = new float[half];
        for (int i = 0; i < half; i++) {
            float exponent = (float) (2 * i) / (float) dim;
            inv[i] = 1.0f / (float) Math.pow(rope.theta, exponent);
        }
        if (rope.type.equals("linear")) {
            float factor = (float) rope.param("factor");
            for (int i = 0; i < half; i++) {
                inv[i] = inv[i] / factor;
            }
        } else if (rope.type.equals("llama3")) {
            float factor = (float) rope.param("factor");
            float lowFreqFactor = (float) rope.param("low_freq_factor");
            float highFreqFactor = (float) rope.param("high_freq_factor");
            float oldContext = (float) rope.param("original_max_position_embeddings");
            float lowFreqWavelen = oldContext / lowFreqFactor;
            float highFreqWavelen = oldContext / highFreqFactor;
            for (int i = 0; i < half; i++) {
                float wavelen = (float) (2 * Math.PI) / inv[i];
                float scaled = wavelen > lowFreqWavelen ? inv[i] / factor : inv[i];
                boolean medium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
                if (medium) {
                    float smooth = (oldContext / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                    scaled = (1 - smooth) * scaled / factor + smooth * scaled;
                }
                inv[i] = scaled;
            }
        }
        double[] out = new double[half];
        for (int i = 0; i < half; i++) {
            out[i] = inv[i];
        }
        return out;
    }

    /** A copy of the inverse frequencies. */
    public double[] inverseFrequencies() {
        return invFreq.clone();
    }

    /**
     * cos and sin tables [B', 1, T, head_dim] for int64 positions [B', T], in {@code dtype}.
     *
     * @return {cos, sin}
     */
    public Value[] cosSin(Graph g, Value positionIds, DType dtype) {
        DType compute = dtype == DType.F64 ? DType.F64 : DType.F32;
        Tensor inv;
        if (compute == DType.F64) {
            inv = Tensor.of(invFreq.clone(), invFreq.length);
        } else {
            float[] f = new float[invFreq.length];
            for (int i = 0; i < f.length; i++) {
                f[i] = (float) invFreq[i];
            }
            inv = Tensor.of(f, f.length);
        }
        Value pos = g.unsqueeze(g.cast(positionIds, compute), -1);              // [B',T,1]
        Value freqs = g.mul(pos, g.constant(inv));                              // [B',T,D/2]
        Value emb = g.concat(-1, freqs, freqs);                                 // [B',T,D]
        Value cos = g.unsqueeze(g.cast(g.cos(emb), dtype), 1);
        Value sin = g.unsqueeze(g.cast(g.sin(emb), dtype), 1);
        return new Value[] {cos, sin};
    }

    /** {@code x * cos + rotate_half(x) * sin} for x [B, H, T, D]. */
    public static Value apply(Graph g, Value x, Value cos, Value sin, long headDim) {
        long half = headDim / 2;
        Value x1 = g.slice(x, new long[] {0}, new long[] {half}, new long[] {-1});
        Value x2 = g.slice(x, new long[] {half}, new long[] {headDim}, new long[] {-1});
        Value rotated = g.concat(-1, g.neg(x2), x1);
        return g.add(g.mul(x, cos), g.mul(rotated, sin));
    }
}
