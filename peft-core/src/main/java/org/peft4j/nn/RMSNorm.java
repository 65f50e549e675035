package org.peft4j.nn;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.tensor.DType;

/** Llama's RMSNorm: {@code weight * x / sqrt(mean(x^2) + eps)} over the last axis. */
public class RMSNorm extends Layer {
    private final long dim;
    private final double eps;

    public RMSNorm(long dim, double eps, DType dtype) {
        this.dim = dim;
        this.eps = eps;
        registerParameter("weight", new Parameter(dtype, dim));
    }

    public double eps() {
        return eps;
    }

    public Parameter weight() {
        return parameter("weight");
    }

    @Override
    public Value forward(Graph g, Value x) {
        Value variance = g.reduceMean(g.mul(x, x), true, -1);
        Value inv = g.reciprocal(g.sqrt(g.addScalar(variance, eps)));
        return g.mul(g.param(weight()), g.mul(x, inv));
    }

    @Override
    public String toString() {
        return "RMSNorm((" + dim + ",), eps=" + eps + ")";
    }
}
