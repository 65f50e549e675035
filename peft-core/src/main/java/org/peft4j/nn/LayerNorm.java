package org.peft4j.nn;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.tensor.DType;

/** Layer normalization over the last axis with weight and (optional) bias, as {@code torch.nn.LayerNorm}. */
public class LayerNorm extends Layer {
    private final long dim;
    private final double eps;

    /**
     * torch's {@code nn.LayerNorm} over the last dimension.
     *
     * @param dim the normalised width
     * @param eps the variance epsilon
     * @param bias whether there is a bias
     * @param dtype the parameters' dtype
     */
    public LayerNorm(long dim, double eps, boolean bias, DType dtype) {
        this.dim = dim;
        this.eps = eps;
        registerParameter("weight", new Parameter(dtype, dim));
        if (bias) {
            registerParameter("bias", new Parameter(dtype, dim));
        }
    }

    /**
     * The {@code [dim]} scale.
     *
     * @return the parameter
     */
    public Parameter weight() {
        return parameter("weight");
    }

    /**
     * The {@code [dim]} bias.
     *
     * @return the parameter, or null without a bias
     */
    public Parameter bias() {
        return parameter("bias");
    }

    @Override
    public Value forward(Graph g, Value x) {
        Parameter b = bias();
        return g.layerNorm(x, g.param(weight()), b == null ? null : g.param(b), eps);
    }

    @Override
    public String toString() {
        return "LayerNorm((" + dim + ",), eps=" + eps + ")";
    }
}
