package org.peft4j.models.gemma2;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.nn.Functional;
import org.peft4j.nn.RMSNorm;
import org.peft4j.tensor.DType;

/**
 * Gemma's RMSNorm: {@code x / sqrt(mean(x^2) + eps) * (1 + weight)}, computed in float32 and rounded to the input
 * dtype at the end, as transformers' {@code Gemma2RMSNorm} ({@code (x * w).to(float16)}, where Llama rounds before
 * the weight). A float64 graph computes in float64.
 */
public class Gemma2RMSNorm extends RMSNorm {
    private final long dim;

    /**
     * Gemma's RMSNorm, which scales by {@code 1 + weight}.
     *
     * @param dim the normalised width
     * @param eps the variance epsilon ({@code rms_norm_eps})
     * @param dtype the weight's dtype
     */
    public Gemma2RMSNorm(long dim, double eps, DType dtype) {
        super(dim, eps, dtype);
        this.dim = dim;
    }

    @Override
    public Value forward(Graph g, Value x) {
        DType in = x.dtype();
        Value xc = in == DType.F64 ? x : g.cast(x, DType.F32);
        Value variance = g.reduceMean(g.mul(xc, xc), true, -1);
        Value normed = g.mul(xc, g.reciprocal(g.sqrt(g.addScalar(variance, eps()))));
        Value w = in == DType.F64 ? g.param(weight()) : Functional.toFloat32(g, g.param(weight()));
        Value out = g.mul(normed, g.addScalar(w, 1.0));
        return out.dtype() == in ? out : g.cast(out, in);
    }

    /** 0, as {@code Gemma2PreTrainedModel._init_weights} zeroes every RMSNorm weight ({@code 1 + w} is then 1). */
    @Override
    public float initialWeight() {
        return 0f;
    }

    @Override
    public String toString() {
        return "Gemma2RMSNorm((" + dim + ",), eps=" + eps() + ")";
    }
}
