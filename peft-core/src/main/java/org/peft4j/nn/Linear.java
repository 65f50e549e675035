package org.peft4j.nn;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/** {@code y = x W^T + b} with weight [out_features, in_features], as {@code torch.nn.Linear}. */
public class Linear extends Layer implements LinearLike {
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

    @Override
    public long inFeatures() {
        return inFeatures;
    }

    @Override
    public long outFeatures() {
        return outFeatures;
    }

    /** False: the weight is stored [out, in]. */
    @Override
    public boolean fanInFanOut() {
        return false;
    }

    /**
     * The {@code [out_features, in_features]} weight (torch's layout).
     *
     * @return the parameter
     */
    public Parameter weight() {
        return parameter("weight");
    }

    /** The bias, or null. */
    @Override
    public Parameter bias() {
        return parameter("bias");
    }

    /** Replaces the weight (e.g. to tie it to an embedding). */
    public void setWeight(Parameter p) {
        registerParameter("weight", p);
    }

    @Override
    public boolean hasWeightData() {
        return weight().hasData();
    }

    /** The weight in float32 (the weight tensor itself when it is float32). */
    @Override
    public Tensor denseWeight() {
        return weight().data().to(DType.F32);
    }

    @Override
    public Value denseWeight(Graph g) {
        return g.cast(g.param(weight()), DType.F32);
    }

    /** The weight: stored plainly. */
    @Override
    public Parameter plainWeight() {
        return weight();
    }

    /** Sets the weight's data to {@code w} rounded to the weight's dtype (tied weights stay tied). */
    @Override
    public void setDenseWeight(Tensor w) {
        LinearLike.checkDenseShape(this, w);
        weight().setData(w.to(weight().dtype()));
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
