package org.peft4j.nn;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.tensor.DType;

/** {@code y = x W^T + b} with weight [out_features, in_features], as {@code torch.nn.Linear}. */
public class Linear extends Layer {
    private final long inFeatures;
    private final long outFeatures;

    /** A shape-only linear layer (attach weights with {@code loadStateDict}). */
    public Linear(long inFeatures, long outFeatures, boolean bias, DType dtype) {
        this.inFeatures = inFeatures;
        this.outFeatures = outFeatures;
        registerParameter("weight", new Parameter(dtype, outFeatures, inFeatures));
        if (bias) {
            registerParameter("bias", new Parameter(dtype, outFeatures));
        }
    }

    public long inFeatures() {
        return inFeatures;
    }

    public long outFeatures() {
        return outFeatures;
    }

    public Parameter weight() {
        return parameter("weight");
    }

    /** The bias, or null. */
    public Parameter bias() {
        return parameter("bias");
    }

    /** Replaces the weight (e.g. to tie it to an embedding). */
    public void setWeight(Parameter p) {
        registerParameter("weight", p);
    }

    @Override
    public Value forward(Graph g, Value x) {
        Parameter b = bias();
        return Functional.linear(g, x, g.param(weight()), b == null ? null : g.param(b), true);
    }

    @Override
    public String toString() {
        return "Linear(in_features=" + inFeatures + ", out_features=" + outFeatures + ", bias=" + (bias() != null)
                + ")";
    }
}
