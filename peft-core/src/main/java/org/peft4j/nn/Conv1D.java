package org.peft4j.nn;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.tensor.DType;

/**
 * GPT-2's {@code Conv1D}: a linear layer whose weight is stored transposed, [in (nx), out (nf)], with
 * {@code y = x W + b}.
 */
public class Conv1D extends Layer {
    private final long nf;
    private final long nx;

    /**
     * @param nf output features
     * @param nx input features
     */
    public Conv1D(long nf, long nx, DType dtype) {
        this.nf = nf;
        this.nx = nx;
        registerParameter("weight", new Parameter(dtype, nx, nf));
        registerParameter("bias", new Parameter(dtype, nf));
    }

    public long inFeatures() {
        return nx;
    }

    public long outFeatures() {
        return nf;
    }

    public Parameter weight() {
        return parameter("weight");
    }

    public Parameter bias() {
        return parameter("bias");
    }

    @Override
    public Value forward(Graph g, Value x) {
        return Functional.linear(g, x, g.param(weight()), g.param(bias()), false);
    }

    @Override
    public String toString() {
        return "Conv1D(nf=" + nf + ", nx=" + nx + ")";
    }
}
