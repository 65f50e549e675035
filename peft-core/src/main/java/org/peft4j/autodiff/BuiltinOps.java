package org.peft4j.autodiff;

import static org.peft4j.autodiff.BuiltinShapes.BROADCAST;
import static org.peft4j.autodiff.BuiltinShapes.CAST;
import static org.peft4j.autodiff.BuiltinShapes.COMPARE;
import static org.peft4j.autodiff.BuiltinShapes.CONCAT;
import static org.peft4j.autodiff.BuiltinShapes.FUSED_MATMUL;
import static org.peft4j.autodiff.BuiltinShapes.GATHER;
import static org.peft4j.autodiff.BuiltinShapes.GATHER_ELEMENTS;
import static org.peft4j.autodiff.BuiltinShapes.GEMM;
import static org.peft4j.autodiff.BuiltinShapes.MATMUL;
import static org.peft4j.autodiff.BuiltinShapes.RANGE;
import static org.peft4j.autodiff.BuiltinShapes.REDUCE;
import static org.peft4j.autodiff.BuiltinShapes.SAME;
import static org.peft4j.autodiff.BuiltinShapes.SHAPE;
import static org.peft4j.autodiff.BuiltinShapes.SIZE;
import static org.peft4j.autodiff.BuiltinShapes.SQUEEZE;
import static org.peft4j.autodiff.BuiltinShapes.TRANSPOSE;
import static org.peft4j.autodiff.BuiltinShapes.UNSQUEEZE;
import static org.peft4j.autodiff.BuiltinShapes.WHERE;

import java.util.List;
import java.util.Map;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Node;
import org.peft4j.graph.Shape;
import org.peft4j.graph.ShapeInference;
import org.peft4j.graph.Value;
import org.peft4j.tensor.DType;

/**
 * The definitions of the ops peft-core emits, registered in {@link Ops} when it loads. Gradient rules are written
 * with standard ONNX ops (no training-only kernels such as SoftmaxGrad). A rule returns the gradient of the loss with
 * respect to one input of a node, given the gradients of the node's outputs (null entries for outputs that do not
 * reach the loss).
 *
 * <p>CUDA flags: every op flagged {@link #CUDA} has a CUDA kernel in ONNX Runtime covering opset 21 for float32. The
 * set was read from ONNX Runtime's generated kernel table ({@code docs/OperatorKernels.md}, CUDA section, commit
 * 001d12d) and cross-checked against {@code cuda_execution_provider.cc}; BitShift and BitwiseAnd are deliberately
 * flagged {@link #CPU_ONLY} (no CUDA kernel). Mod, Size and Pad (int64 and float kernels at opset 13+) were checked
 * in the same table. ReduceProd (emitted only by the ReduceMean gradient over symbolic axes) was not part of that
 * check and is flagged {@link #CPU_ONLY} until verified.
 */
final class BuiltinOps {
    /** Has a float32 CUDA kernel in ONNX Runtime 1.29 (see the class comment for the provenance). */
    private static final boolean CUDA = true;
    /** No CUDA kernel (or not verified). */
    private static final boolean CPU_ONLY = false;

    private BuiltinOps() {
    }

    /** Registers a standard-domain op. */
    private static void std(String op, ShapeInference shapes, boolean cuda, GradientRule rule) {
        Ops.register(OpDef.builder("", op).shapes(shapes).cudaKernel(cuda).gradient(rule).build());
    }

    /** Registers an ONNX Runtime contrib op ({@value Graph#MS_DOMAIN}). */
    private static void ms(String op, ShapeInference shapes, boolean cuda, GradientRule rule) {
        Ops.register(OpDef.builder(Graph.MS_DOMAIN, op).shapes(shapes).cudaKernel(cuda).gradient(rule).build());
    }

    /** Registers every built-in definition (called once, by {@link Ops}). */
    static void registerAll() {
        differentiable();
        // ops without a gradient (integer, boolean and shape ops, or ops the models emit only off the gradient path)
        std("Abs", SAME, CUDA, null);
        std("And", COMPARE, CUDA, null);
        std("Clip", SAME, CUDA, null);
        std("ConstantOfShape", null, CUDA, null);
        std("Dropout", null, CUDA, null);
        std("Equal", COMPARE, CUDA, null);
        std("Greater", COMPARE, CUDA, null);
        std("Less", COMPARE, CUDA, null);
        std("LessOrEqual", COMPARE, CUDA, null);
        std("Max", BROADCAST, CUDA, null);
        std("Min", BROADCAST, CUDA, null);
        std("Mod", BROADCAST, CUDA, null);
        std("Not", SAME, CUDA, null);
        std("OneHot", null, CUDA, null);
        std("Pad", null, CUDA, null);
        std("Range", RANGE, CUDA, null);
        std("ReduceLogSumExp", REDUCE, CUDA, null);
        std("ReduceMax", REDUCE, CUDA, null);
        std("ScatterElements", SAME, CUDA, null);
        std("ScatterND", SAME, CUDA, null);
        std("Shape", SHAPE, CUDA, null);
        std("Size", SIZE, CUDA, null);
        std("ReduceProd", REDUCE, CPU_ONLY, null);
        std("BitShift", BROADCAST, CPU_ONLY, null);
        std("BitwiseAnd", BROADCAST, CPU_ONLY, null);
        // ONNX Runtime contrib ops
        ms("FusedMatMul", FUSED_MATMUL, CUDA, BuiltinOps::fusedMatmul);
    }

    private static void differentiable() {
        std("Identity", SAME, CUDA, (c, n, d, i) -> d.get(0));
        std("Add", BROADCAST, CUDA, (c, n, d, i) -> c.reduceTo(d.get(0), n.input(i)));
        std("Sub", BROADCAST, CUDA, (c, n, d, i) -> c.reduceTo(i == 0 ? d.get(0) : c.g.neg(d.get(0)), n.input(i)));
        std("Mul", BROADCAST, CUDA, (c, n, d, i) -> c.reduceTo(c.g.mul(d.get(0), n.input(1 - i)), n.input(i)));
        std("Div", BROADCAST, CUDA, (c, n, d, i) -> {
            Graph g = c.g;
            if (i == 0) {
                return c.reduceTo(g.div(d.get(0), n.input(1)), n.input(0));
            }
            // d(a/b)/db = -a/b^2 = -y/b
            return c.reduceTo(g.neg(g.div(g.mul(d.get(0), n.output(0)), n.input(1))), n.input(1));
        });
        std("Neg", SAME, CUDA, (c, n, d, i) -> c.g.neg(d.get(0)));
        std("Pow", BROADCAST, CUDA, (c, n, d, i) -> {
            Graph g = c.g;
            Value a = n.input(0);
            Value b = n.input(1);
            if (i == 0) {
                // b * a^(b-1)
                Value bb = g.cast(b, a.dtype());
                Value pw = g.pow(a, g.sub(bb, c.scalar(1, a)));
                return c.reduceTo(g.mul(d.get(0), g.mul(bb, pw)), a);
            }
            // y * ln(a)
            return c.reduceTo(g.mul(d.get(0), g.mul(n.output(0), g.log(a))), b);
        });
        std("Sqrt", SAME, CUDA, (c, n, d, i) -> c.g.div(c.g.mulScalar(d.get(0), 0.5), n.output(0)));
        std("Reciprocal", SAME, CUDA, (c, n, d, i) -> c.g.neg(c.g.mul(d.get(0), c.g.mul(n.output(0), n.output(0)))));
        std("Exp", SAME, CUDA, (c, n, d, i) -> c.g.mul(d.get(0), n.output(0)));
        std("Log", SAME, CUDA, (c, n, d, i) -> c.g.div(d.get(0), n.input(0)));
        std("Sin", SAME, CUDA, (c, n, d, i) -> c.g.mul(d.get(0), c.g.cos(n.input(0))));
        std("Cos", SAME, CUDA, (c, n, d, i) -> c.g.neg(c.g.mul(d.get(0), c.g.sin(n.input(0)))));
        std("Tanh", SAME, CUDA, (c, n, d, i) -> {
            Value y = n.output(0);
            return c.g.mul(d.get(0), c.g.sub(c.scalar(1, y), c.g.mul(y, y)));
        });
        std("Sigmoid", SAME, CUDA, (c, n, d, i) -> {
            Value y = n.output(0);
            return c.g.mul(d.get(0), c.g.mul(y, c.g.sub(c.scalar(1, y), y)));
        });
        std("Erf", SAME, CUDA, (c, n, d, i) -> {
            Value x = n.input(0);
            Value e = c.g.exp(c.g.neg(c.g.mul(x, x)));
            return c.g.mul(d.get(0), c.g.mulScalar(e, 2 / Math.sqrt(Math.PI)));
        });
        std("Relu", SAME, CUDA, (c, n, d, i) -> {
            Value x = n.input(0);
            return c.g.where(c.g.greater(x, c.scalar(0, x)), d.get(0), c.zerosLike(d.get(0)));
        });
        std("Cast", CAST, CUDA, (c, n, d, i) -> c.g.cast(d.get(0), n.input(0).dtype()));
        std("Where", WHERE, CUDA, (c, n, d, i) -> {
            if (i == 0) {
                return null;
            }
            Value zeros = c.zerosLike(d.get(0));
            Value sel = i == 1 ? c.g.where(n.input(0), d.get(0), zeros) : c.g.where(n.input(0), zeros, d.get(0));
            return c.reduceTo(sel, n.input(i));
        });
        std("Expand", null, CUDA, (c, n, d, i) -> i == 0 ? c.reduceTo(d.get(0), n.input(0)) : null);
        std("Reshape", null, CUDA, (c, n, d, i) -> i == 0 ? reshapeBack(c, d.get(0), n.input(0)) : null);
        std("Unsqueeze", UNSQUEEZE, CUDA, (c, n, d, i) -> i == 0 ? reshapeBack(c, d.get(0), n.input(0)) : null);
        std("Squeeze", SQUEEZE, CUDA, (c, n, d, i) -> i == 0 ? reshapeBack(c, d.get(0), n.input(0)) : null);
        std("Transpose", TRANSPOSE, CUDA, (c, n, d, i) -> {
            long[] perm = n.attrLongs("perm");
            long[] inv = new long[perm.length];
            for (int k = 0; k < perm.length; k++) {
                inv[(int) perm[k]] = k;
            }
            return c.g.transpose(d.get(0), inv);
        });
        std("MatMul", MATMUL, CUDA, BuiltinOps::matmul);
        std("Gemm", GEMM, CUDA, BuiltinOps::gemm);
        std("Concat", CONCAT, CUDA, BuiltinOps::concat);
        std("Split", null, CUDA, BuiltinOps::split);
        std("Slice", null, CUDA, BuiltinOps::slice);
        std("Gather", GATHER, CUDA, BuiltinOps::gather);
        std("GatherElements", GATHER_ELEMENTS, CUDA, (c, n, d, i) -> {
            if (i != 0) {
                return null;
            }
            long axis = n.attrLong("axis", 0);
            return c.g.node("ScatterElements", "", List.of(c.zerosLike(n.input(0)), n.input(1), d.get(0)),
                    List.of(n.input(0).dtype()), List.of(n.input(0).shape()),
                    Map.of("axis", axis, "reduction", "add")).output(0);
        });
        std("Softmax", SAME, CUDA, (c, n, d, i) -> {
            long axis = n.attrLong("axis", -1);
            Value y = n.output(0);
            Value dot = c.g.reduceSum(c.g.mul(d.get(0), y), true, axis);
            return c.g.mul(y, c.g.sub(d.get(0), dot));
        });
        std("LogSoftmax", SAME, CUDA, (c, n, d, i) -> {
            long axis = n.attrLong("axis", -1);
            Value sum = c.g.reduceSum(d.get(0), true, axis);
            return c.g.sub(d.get(0), c.g.mul(c.g.exp(n.output(0)), sum));
        });
        std("ReduceSum", REDUCE, CUDA, (c, n, d, i) -> i == 0 ? reduceBack(c, n, d.get(0), false) : null);
        std("ReduceMean", REDUCE, CUDA, (c, n, d, i) -> i == 0 ? reduceBack(c, n, d.get(0), true) : null);
        std("LayerNormalization", SAME, CUDA, BuiltinOps::layerNorm);
    }

    private static Value reshapeBack(GradientContext c, Value grad, Value x) {
        return c.g.reshape(grad, c.shape(x), x.shape());
    }

    private static Value matmul(GradientContext c, Node n, List<Value> d, int i) {
        Value a = n.input(0);
        Value b = n.input(1);
        Value dy = d.get(0);
        if (i == 0) {
            return c.reduceTo(c.g.matmul(dy, c.transposeLast2(b)), a);
        }
        return c.reduceTo(c.g.matmul(c.transposeLast2(a), dy), b);
    }

    /**
     * {@code com.microsoft:FusedMatMul}: Y = alpha op(A) op(B), op = transpose of the last two axes when transA /
     * transB is set (transBatchA / transBatchB are refused by its shape inference and here). With A' = op(A) and
     * B' = op(B): dA' = alpha dY B'^T and dB' = alpha A'^T dY; a transposed input takes the transpose of its
     * gradient, and batch axes that were broadcast are summed away.
     */
    private static Value fusedMatmul(GradientContext c, Node n, List<Value> d, int i) {
        if (n.attrLong("transBatchA", 0) != 0 || n.attrLong("transBatchB", 0) != 0) {
            throw new IllegalArgumentException("FusedMatMul gradient needs transBatchA = transBatchB = 0: " + n);
        }
        boolean ta = n.attrLong("transA", 0) != 0;
        boolean tb = n.attrLong("transB", 0) != 0;
        double alpha = n.attrDouble("alpha", 1.0);
        Value a = n.input(0);
        Value b = n.input(1);
        Value dy = d.get(0);
        Graph g = c.g;
        Value grad;
        if (i == 0) {
            // dA = dA' = dY B'^T, or (dA')^T = B' dY^T when A was transposed
            grad = ta ? g.matmul(tb ? c.transposeLast2(b) : b, c.transposeLast2(dy))
                    : g.matmul(dy, tb ? b : c.transposeLast2(b));
        } else {
            // dB = dB' = A'^T dY, or (dB')^T = dY^T A' when B was transposed
            grad = tb ? g.matmul(c.transposeLast2(dy), ta ? c.transposeLast2(a) : a)
                    : g.matmul(ta ? a : c.transposeLast2(a), dy);
        }
        if (alpha != 1.0) {
            grad = g.mulScalar(grad, alpha);
        }
        return c.reduceTo(grad, i == 0 ? a : b);
    }

    /** Y = op(A) op(B) + C with op = transpose when the flag is set (alpha = beta = 1). */
    private static Value gemm(GradientContext c, Node n, List<Value> d, int i) {
        if (n.attrDouble("alpha", 1.0) != 1.0 || n.attrDouble("beta", 1.0) != 1.0) {
            throw new IllegalArgumentException("Gemm gradient needs alpha = beta = 1: " + n);
        }
        boolean ta = n.attrLong("transA", 0) != 0;
        boolean tb = n.attrLong("transB", 0) != 0;
        Value a = n.input(0);
        Value b = n.input(1);
        Value dy = d.get(0);
        Graph g = c.g;
        if (i == 0) {
            // d op(A) = dY op(B)^T ; dA = transA ? (d op(A))^T = op(B) dY^T : d op(A)
            return ta ? g.gemm(b, dy, null, tb, true) : g.gemm(dy, b, null, false, !tb);
        }
        if (i == 1) {
            // d op(B) = op(A)^T dY ; dB = transB ? dY^T op(A) : d op(B)
            return tb ? g.gemm(dy, a, null, true, ta) : g.gemm(a, dy, null, !ta, false);
        }
        return c.reduceTo(dy, n.input(2));
    }

    private static Value concat(GradientContext c, Node n, List<Value> d, int i) {
        long axis = n.attrLong("axis", 0);
        int r = n.output(0).rank();
        int ax = (int) (axis < 0 ? axis + r : axis);
        Graph g = c.g;
        Value start = g.ints(0);
        for (int k = 0; k < i; k++) {
            start = g.add(start, g.shapeOf(n.input(k), ax, ax + 1));
        }
        Value end = g.add(start, g.shapeOf(n.input(i), ax, ax + 1));
        return g.slice(d.get(0), start, end, ax, n.input(i).shape());
    }

    private static Value split(GradientContext c, Node n, List<Value> d, int i) {
        if (i != 0) {
            return null;
        }
        long axis = n.attrLong("axis", 0);
        Value[] parts = new Value[n.outputs().size()];
        for (int k = 0; k < parts.length; k++) {
            parts[k] = d.get(k) != null ? d.get(k) : c.zerosLike(n.output(k));
        }
        return c.g.concat(axis, parts);
    }

    /**
     * Slice with constant starts, ends and axes and unit steps: pad the gradient back with zeros. On a fixed-size
     * axis any bounds work; on a symbolic axis the start must be non-negative and the end negative or open
     * ({@code Long.MAX_VALUE}), e.g. the one-token shift of a causal LM loss.
     */
    private static Value slice(GradientContext c, Node n, List<Value> d, int i) {
        if (i != 0) {
            return null;
        }
        Value x = n.input(0);
        long[] starts = GradientContext.constInts(n.input(1));
        long[] ends = GradientContext.constInts(n.input(2));
        long[] axes = GradientContext.constInts(n.input(3));
        if (starts == null || ends == null || axes == null || (n.input(4) != null)) {
            throw new IllegalArgumentException("Slice gradient needs constant starts, ends and axes and unit steps: "
                    + n);
        }
        int r = x.rank();
        long[] pads = new long[2 * r];
        for (int k = 0; k < axes.length; k++) {
            int ax = (int) (axes[k] < 0 ? axes[k] + r : axes[k]);
            Dim dim = x.shape().dim(ax);
            if (dim.isFixed()) {
                long size = dim.size();
                long s = clamp(starts[k] < 0 ? starts[k] + size : starts[k], size);
                long e = clamp(ends[k] < 0 ? ends[k] + size : ends[k], size);
                pads[ax] = s;
                pads[r + ax] = size - Math.max(s, e);
            } else if (starts[k] >= 0 && (ends[k] < 0 || ends[k] == Long.MAX_VALUE)) {
                pads[ax] = starts[k];
                pads[r + ax] = ends[k] == Long.MAX_VALUE ? 0 : -ends[k];
            } else {
                throw new IllegalArgumentException("Slice gradient on symbolic axis " + ax
                        + " needs a start >= 0 and an end < 0 or open: " + n);
            }
        }
        return c.g.node("Pad", "", List.of(d.get(0), c.g.ints(pads)), List.of(x.dtype()), List.of(x.shape()),
                Map.of()).output(0);
    }

    private static long clamp(long v, long n) {
        return Math.max(0, Math.min(v, n));
    }

    /** Gather along axis 0 (embedding lookup): scatter-add the gradient rows into zeros. */
    private static Value gather(GradientContext c, Node n, List<Value> d, int i) {
        if (i != 0) {
            return null;
        }
        if (n.attrLong("axis", 0) != 0) {
            throw new IllegalArgumentException("Gather gradient is implemented for axis 0 only: " + n);
        }
        Value data = n.input(0);
        Value idx = c.g.unsqueeze(n.input(1), -1);
        return c.g.node("ScatterND", "", List.of(c.zerosLike(data), idx, d.get(0)), List.of(data.dtype()),
                List.of(data.shape()), Map.of("reduction", "add")).output(0);
    }

    /** Gradient of ReduceSum / ReduceMean: broadcast back over the reduced axes (divided by their size for mean). */
    private static Value reduceBack(GradientContext c, Node n, Value dy, boolean mean) {
        Value x = n.input(0);
        long[] axes = GradientContext.constInts(n.input(1));
        if (axes == null) {
            throw new IllegalArgumentException(n.opType() + " gradient needs constant axes: " + n);
        }
        Graph g = c.g;
        boolean keep = n.attrLong("keepdims", 1) != 0;
        Value kept = keep ? dy : g.unsqueeze(dy, axes);
        Value expanded = g.expand(kept, c.shape(x), x.shape());
        if (!mean) {
            return expanded;
        }
        long count = 1;
        boolean fixed = true;
        for (long a : axes) {
            Dim dim = x.shape().dim((int) (a < 0 ? a + x.rank() : a));
            if (dim.isFixed()) {
                count *= dim.size();
            } else {
                fixed = false;
            }
        }
        if (fixed) {
            return g.mulScalar(expanded, 1.0 / count);
        }
        Value sizes = g.gather(c.shape(x), g.ints(axes), 0);
        Value n0 = g.cast(g.node("ReduceProd", "", List.of(sizes), List.of(DType.I64), List.of(Shape.scalar()),
                Map.of("keepdims", 0L)).output(0), x.dtype());
        return g.div(expanded, n0);
    }

    /**
     * LayerNormalization over the last axis: with x̂ = (x - mean) / sqrt(var + eps) and g = dY * scale,
     * dX = (g - mean(g) - x̂ mean(g x̂)) / sqrt(var + eps); dScale = Σ dY x̂; dBias = Σ dY.
     */
    private static Value layerNorm(GradientContext c, Node n, List<Value> d, int i) {
        if (n.attrLong("axis", -1) != -1 && n.attrLong("axis", -1) != n.input(0).rank() - 1) {
            throw new IllegalArgumentException("LayerNormalization gradient needs axis -1: " + n);
        }
        Graph g = c.g;
        Value x = n.input(0);
        Value dy = d.get(0);
        if (i == 2) {
            return c.reduceTo(dy, n.input(2));
        }
        double eps = n.attrDouble("epsilon", 1e-5);
        Value mean = g.reduceMean(x, true, -1);
        Value centered = g.sub(x, mean);
        Value var = g.reduceMean(g.mul(centered, centered), true, -1);
        Value inv = g.reciprocal(g.sqrt(g.addScalar(var, eps)));
        Value xhat = g.mul(centered, inv);
        if (i == 1) {
            return c.reduceTo(g.mul(dy, xhat), n.input(1));
        }
        Value gs = g.mul(dy, n.input(1));
        Value meanG = g.reduceMean(gs, true, -1);
        Value meanGx = g.reduceMean(g.mul(gs, xhat), true, -1);
        return g.mul(inv, g.sub(g.sub(gs, meanG), g.mul(xhat, meanGx)));
    }
}
