package org.peft4j.nn;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * GPT-2's {@code Conv1D}: a linear layer whose weight is stored transposed, [in (nx), out (nf)], with
 * {@code y = x W + b}.
 */
public class Conv1D extends Layer implements LinearLike {
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

    @Override
    public long inFeatures() {
        return nx;
    }

    @Override
    public long outFeatures() {
        return nf;
    }

    /** True: the weight is stored [in, out]. */
    @Override
    public boolean fanInFanOut() {
        return true;
    }

    /**
     * The {@code [in_features, out_features]} weight (GPT-2's transposed layout).
     *
     * @return the parameter
     */
    public Parameter weight() {
        return parameter("weight");
    }

    @Override
    public Parameter bias() {
        return parameter("bias");
    }

    @Override
    public boolean hasWeightData() {
        return weight().hasData();
    }

    /** The weight transposed to [out, in], in float32 (a new tensor). */
    @Override
    public Tensor denseWeight() {
        return transpose(weight().data(), nx, nf).to(DType.F32);
    }

    @Override
    public Value denseWeight(Graph g) {
        return g.transpose(g.cast(g.param(weight()), DType.F32), 1, 0);
    }

    /** The weight: stored plainly, transposed. */
    @Override
    public Parameter plainWeight() {
        return weight();
    }

    /** Sets the weight's data to {@code w} [out, in] transposed to [in, out] and rounded to the weight's dtype. */
    @Override
    public void setDenseWeight(Tensor w) {
        LinearLike.checkDenseShape(this, w);
        weight().setData(transpose(w, nf, nx).to(weight().dtype()));
    }

    /** {@code t} [rows, cols] transposed, exactly (in float64 for float64 input, else in float32). */
    private static Tensor transpose(Tensor t, long rows, long cols) {
        int r = Math.toIntExact(rows);
        int c = Math.toIntExact(cols);
        if (t.dtype() == DType.F64) {
            double[] x = t.toDoubleArray();
            double[] y = new double[x.length];
            for (int i = 0; i < r; i++) {
                for (int j = 0; j < c; j++) {
                    y[j * r + i] = x[i * c + j];
                }
            }
            return Tensor.of(y, cols, rows);
        }
        float[] x = t.toFloatArray();
        float[] y = new float[x.length];
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < c; j++) {
                y[j * r + i] = x[i * c + j];
            }
        }
        return Tensor.of(y, cols, rows);
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
