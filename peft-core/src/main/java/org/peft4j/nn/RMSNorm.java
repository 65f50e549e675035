package org.peft4j.nn;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.tensor.DType;

/**
 * Llama's RMSNorm: {@code weight * x / sqrt(mean(x^2) + eps)} over the last axis. In float16 and bfloat16 the
 * normalisation runs in float32 and its result is rounded to the input dtype before the weight multiplies it, as
 * transformers' {@code LlamaRMSNorm} ({@code hidden_states.to(torch.float32)} ...
 * {@code self.weight * hidden_states.to(input_dtype)}); float32 and float64 compute in their own dtype.
 */
public class RMSNorm extends Layer {
    private final long dim;
    private final double eps;

    /**
     * RMSNorm over the last dimension, as transformers' {@code LlamaRMSNorm}:
     * {@code x / sqrt(mean(x^2) + eps) * weight} (normalised in float32 for half-precision inputs).
     *
     * @param dim the normalised width
     * @param eps the variance epsilon ({@code rms_norm_eps})
     * @param dtype the weight's dtype
     */
    public RMSNorm(long dim, double eps, DType dtype) {
        this.dim = dim;
        this.eps = eps;
        registerParameter("weight", new Parameter(dtype, dim));
    }

    /**
     * The value transformers' {@code _init_weights} gives this norm's weight: 1 ({@code x * w}); Gemma's
     * {@code x * (1 + w)} norms start at 0.
     */
    public float initialWeight() {
        return 1f;
    }

    /**
     * The variance epsilon.
     *
     * @return eps
     */
    public double eps() {
        return eps;
    }

    /**
     * The {@code [dim]} scale.
     *
     * @return the parameter
     */
    public Parameter weight() {
        return parameter("weight");
    }

    @Override
    public Value forward(Graph g, Value x) {
        DType in = x.dtype();
        if (!Functional.isHalf(in)) {
            Value variance = g.reduceMean(g.mul(x, x), true, -1);
            Value inv = g.reciprocal(g.sqrt(g.addScalar(variance, eps)));
            return g.mul(g.param(weight()), g.mul(x, inv));
        }
        Value x32 = g.cast(x, DType.F32);
        Value variance = g.reduceMean(g.mul(x32, x32), true, -1);
        Value inv = g.reciprocal(g.sqrt(g.addScalar(variance, eps)));
        Value normed = g.cast(g.mul(x32, inv), in);
        return Functional.halfMul(g, g.param(weight()), normed);
    }

    @Override
    public String toString() {
        return "RMSNorm((" + dim + ",), eps=" + eps + ")";
    }
}
