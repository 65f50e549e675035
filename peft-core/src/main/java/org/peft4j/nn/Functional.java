package org.peft4j.nn;

import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.tensor.DType;

/** Stateless building blocks shared by layers. */
public final class Functional {
    private Functional() {
    }

    /**
     * {@code x W^T + b} for a weight in PyTorch's [out, in] layout ({@code transposed=true}), or {@code x W + b} for
     * a weight in [in, out] layout (GPT-2's Conv1D). Runs as one {@code Gemm} over the flattened leading dimensions,
     * so the weight is never transposed or copied.
     *
     * @param bias may be null
     */
    public static Value linear(Graph g, Value x, Value weight, Value bias, boolean transposed) {
        Dim out = transposed ? weight.shape().dim(0) : weight.shape().dim(1);
        Dim in = transposed ? weight.shape().dim(1) : weight.shape().dim(0);
        if (x.rank() == 2) {
            return g.gemm(x, weight, bias, false, transposed);
        }
        Value x2 = g.reshape(x, -1, in.size());
        Value y2 = g.gemm(x2, weight, bias, false, transposed);
        Value lead = g.shapeOf(x, 0, -1);
        Value target = g.concat(0, lead, g.ints(out.size()));
        return g.reshape(y2, target, x.shape().sub(0, -1).append(out));
    }

    /** SiLU: {@code x * sigmoid(x)}. */
    public static Value silu(Graph g, Value x) {
        return g.mul(x, g.sigmoid(x));
    }

    /** GELU, tanh approximation ({@code gelu_new}, {@code gelu_pytorch_tanh}). */
    public static Value geluTanh(Graph g, Value x) {
        Value x3 = g.mul(g.mul(x, x), x);
        Value inner = g.mulScalar(g.add(x, g.mulScalar(x3, 0.044715)), Math.sqrt(2.0 / Math.PI));
        return g.mul(g.mulScalar(x, 0.5), g.addScalar(g.tanh(inner), 1.0));
    }

    /** Exact GELU: {@code 0.5 x (1 + erf(x / sqrt 2))}. */
    public static Value geluErf(Graph g, Value x) {
        Value erf = g.node("Erf", "", java.util.List.of(g.mulScalar(x, 1 / Math.sqrt(2.0))), java.util.List.of(
                x.dtype()), java.util.List.of(x.shape()), java.util.Map.of()).output(0);
        return g.mul(g.mulScalar(x, 0.5), g.addScalar(erf, 1.0));
    }

    /** Whether {@code t} is float16 or bfloat16. */
    public static boolean isHalf(DType t) {
        return t == DType.F16 || t == DType.BF16;
    }

    /**
     * {@code a * b} for two values of one half-precision dtype, as torch computes it on CPU: each product in float32,
     * rounded to the dtype. Emitted as explicit casts around a float32 {@code Mul} (see {@link #toFloat32}): ONNX
     * Runtime's CPU build has no float16 {@code Mul} kernel, and where it upcasts a {@code Mul} that reads a frozen
     * (bound) parameter directly it converts the parameter's placeholder in the model, not the bound weight, so the
     * product comes out zero.
     */
    public static Value halfMul(Graph g, Value a, Value b) {
        DType t = a.dtype();
        return g.cast(g.mul(toFloat32(g, a), toFloat32(g, b)), t);
    }

    /**
     * {@code x} cast to float32. A parameter is first passed through a shape-preserving {@code Reshape}: ONNX Runtime
     * 1.29's CPU session aborts the process (a failed assertion in its graph transformers) on a {@code Cast} that
     * reads a bound float16 initializer directly.
     */
    public static Value toFloat32(Graph g, Value x) {
        if (x.dtype() == DType.F32) {
            return x;
        }
        if (x.kind() == Value.Kind.PARAMETER) {
            long[] same = new long[x.rank()];
            x = g.reshape(x, same);
        }
        return g.cast(x, DType.F32);
    }
}
