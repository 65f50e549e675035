package org.peft4j.autodiff;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Shape;
import org.peft4j.graph.ShapeInference;
import org.peft4j.graph.Value;
import org.peft4j.graph.ValueType;
import org.peft4j.tensor.DType;

/**
 * Shape inference of the built-in ops, following the ONNX operator specs (and the graph builder methods, which type
 * the same ops the same way). Ops whose output shape depends on runtime values (Reshape, Expand, Slice, ...) have
 * none: their builder methods take the static shape from the caller.
 */
final class BuiltinShapes {
    private BuiltinShapes() {
    }

    /** One output with input 0's type (elementwise unary ops, Softmax, LayerNormalization, Scatter*). */
    static final ShapeInference SAME = (in, a) -> List.of(ValueType.of(in.get(0)));

    /** Numpy broadcast of all present inputs, with input 0's dtype. */
    static final ShapeInference BROADCAST = (in, a) -> List.of(new ValueType(in.get(0).dtype(), broadcast(in, 0)));

    /** Numpy broadcast of all present inputs, bool result (comparisons, logical ops). */
    static final ShapeInference COMPARE = (in, a) -> List.of(new ValueType(DType.BOOL, broadcast(in, 0)));

    /** {@code Where(cond, x, y)}: the broadcast of all three, with x's dtype. */
    static final ShapeInference WHERE = (in, a) -> List.of(new ValueType(in.get(1).dtype(), broadcast(in, 0)));

    static final ShapeInference CAST = (in, a) -> List.of(new ValueType(DType.fromOnnx(Math.toIntExact(
            (Long) a.get("to"))), in.get(0).shape()));

    static final ShapeInference MATMUL = (in, a) -> List.of(new ValueType(in.get(0).dtype(), matmul(in.get(0),
            in.get(1), false, false)));

    /** {@code com.microsoft:FusedMatMul}: {@code alpha * op(A) op(B)} with optional transposes of the last two axes. */
    static final ShapeInference FUSED_MATMUL = (in, a) -> {
        if (long0(a, "transBatchA") != 0 || long0(a, "transBatchB") != 0) {
            throw new IllegalArgumentException("FusedMatMul with transBatchA/transBatchB is not supported");
        }
        return List.of(new ValueType(in.get(0).dtype(), matmul(in.get(0), in.get(1), long0(a, "transA") != 0,
                long0(a, "transB") != 0)));
    };

    static final ShapeInference GEMM = (in, a) -> {
        Shape sa = in.get(0).shape();
        Shape sb = in.get(1).shape();
        Dim m = long0(a, "transA") != 0 ? sa.dim(1) : sa.dim(0);
        Dim n = long0(a, "transB") != 0 ? sb.dim(0) : sb.dim(1);
        return List.of(new ValueType(in.get(0).dtype(), Shape.of(m, n)));
    };

    static final ShapeInference TRANSPOSE = (in, a) -> {
        Value x = in.get(0);
        long[] perm = (long[]) a.get("perm");
        List<Dim> dims = new ArrayList<>();
        for (int i = 0; i < x.rank(); i++) {
            dims.add(x.shape().dim(perm == null ? x.rank() - 1 - i : (int) perm[i]));
        }
        return List.of(new ValueType(x.dtype(), Shape.of(dims)));
    };

    static final ShapeInference UNSQUEEZE = (in, a) -> {
        Value x = in.get(0);
        long[] axes = constAxes(in, 1, "Unsqueeze");
        int r = x.rank() + axes.length;
        boolean[] inserted = new boolean[r];
        for (long ax : axes) {
            inserted[(int) (ax < 0 ? ax + r : ax)] = true;
        }
        List<Dim> dims = new ArrayList<>();
        int j = 0;
        for (int i = 0; i < r; i++) {
            dims.add(inserted[i] ? Dim.of(1) : x.shape().dim(j++));
        }
        return List.of(new ValueType(x.dtype(), Shape.of(dims)));
    };

    static final ShapeInference SQUEEZE = (in, a) -> {
        Value x = in.get(0);
        long[] axes = in.size() > 1 && in.get(1) != null ? constAxes(in, 1, "Squeeze") : null;
        boolean[] drop = new boolean[x.rank()];
        if (axes == null) {
            for (int i = 0; i < x.rank(); i++) {
                Dim d = x.shape().dim(i);
                drop[i] = d.isFixed() && d.size() == 1;
            }
        } else {
            for (long ax : axes) {
                drop[(int) (ax < 0 ? ax + x.rank() : ax)] = true;
            }
        }
        List<Dim> dims = new ArrayList<>();
        for (int i = 0; i < x.rank(); i++) {
            if (!drop[i]) {
                dims.add(x.shape().dim(i));
            }
        }
        return List.of(new ValueType(x.dtype(), Shape.of(dims)));
    };

    /** Concat: sizes add up along the axis; elsewhere any input's fixed size is taken. */
    static final ShapeInference CONCAT = (in, a) -> {
        Value x0 = in.get(0);
        int r = x0.rank();
        long axis = (Long) a.get("axis");
        int ax = (int) (axis < 0 ? axis + r : axis);
        Dim total = Dim.of(0);
        for (Value v : in) {
            Dim d = v.shape().dim(ax);
            total = total.isFixed() && d.isFixed() ? Dim.of(total.size() + d.size()) : Dim.unknown();
        }
        Shape s = x0.shape().with(ax, total);
        for (int i = 0; i < r; i++) {
            for (Value v : in) {
                if (i != ax && v.shape().dim(i).isFixed() && !s.dim(i).isFixed()) {
                    s = s.with(i, v.shape().dim(i));
                }
            }
        }
        return List.of(new ValueType(x0.dtype(), s));
    };

    static final ShapeInference GATHER = (in, a) -> {
        Value data = in.get(0);
        long axis = long0(a, "axis");
        int ax = (int) (axis < 0 ? axis + data.rank() : axis);
        List<Dim> dims = new ArrayList<>(data.shape().dims().subList(0, ax));
        dims.addAll(in.get(1).shape().dims());
        dims.addAll(data.shape().dims().subList(ax + 1, data.rank()));
        return List.of(new ValueType(data.dtype(), Shape.of(dims)));
    };

    /** GatherElements: the indices' shape, the data's dtype. */
    static final ShapeInference GATHER_ELEMENTS = (in, a) -> List.of(new ValueType(in.get(0).dtype(),
            in.get(1).shape()));

    /** Reduce* with constant axes (input 1; absent means all axes) and {@code keepdims} (default 1). */
    static final ShapeInference REDUCE = (in, a) -> {
        Value x = in.get(0);
        boolean keep = !Long.valueOf(0).equals(a.get("keepdims"));
        boolean[] red = new boolean[x.rank()];
        if (in.size() > 1 && in.get(1) != null) {
            for (long ax : constAxes(in, 1, "Reduce")) {
                red[(int) (ax < 0 ? ax + x.rank() : ax)] = true;
            }
        } else if (long0(a, "noop_with_empty_axes") == 0) {
            java.util.Arrays.fill(red, true);
        }
        List<Dim> dims = new ArrayList<>();
        for (int i = 0; i < x.rank(); i++) {
            if (!red[i]) {
                dims.add(x.shape().dim(i));
            } else if (keep) {
                dims.add(Dim.of(1));
            }
        }
        return List.of(new ValueType(x.dtype(), Shape.of(dims)));
    };

    /** {@code Shape(x)[start:end]}: a 1-D int64 of the (clamped) range's length. */
    static final ShapeInference SHAPE = (in, a) -> {
        int r = in.get(0).rank();
        long s = a.containsKey("start") ? (Long) a.get("start") : 0;
        long e = a.containsKey("end") ? (Long) a.get("end") : r;
        s = Math.max(0, Math.min(r, s < 0 ? s + r : s));
        e = Math.max(0, Math.min(r, e < 0 ? e + r : e));
        return List.of(new ValueType(DType.I64, Shape.of(Math.max(0, e - s))));
    };

    static final ShapeInference SIZE = (in, a) -> List.of(new ValueType(DType.I64, Shape.scalar()));

    /** Range: a 1-D result of unknown length with the start's dtype. */
    static final ShapeInference RANGE = (in, a) -> List.of(new ValueType(in.get(0).dtype(), Shape.of(
            Dim.unknown())));

    private static long long0(Map<String, Object> a, String key) {
        Object v = a.get(key);
        return v == null ? 0 : (Long) v;
    }

    private static long[] constAxes(List<Value> in, int k, String op) {
        long[] axes = GradientContext.constInts(in.get(k));
        if (axes == null) {
            throw new IllegalArgumentException(op + " shape inference needs constant axes");
        }
        return axes;
    }

    private static Shape broadcast(List<Value> in, int from) {
        Shape s = Shape.scalar();
        for (int k = from; k < in.size(); k++) {
            if (in.get(k) != null) {
                s = Shape.broadcast(s, in.get(k).shape());
            }
        }
        return s;
    }

    /** The numpy matmul shape of op(a) op(b) (op = transpose of the last two axes when the flag is set). */
    private static Shape matmul(Value a, Value b, boolean ta, boolean tb) {
        if (a.rank() < 2 || b.rank() < 2) {
            throw new IllegalArgumentException("MatMul needs rank >= 2: " + a + ", " + b);
        }
        Shape batch = Shape.broadcast(a.shape().sub(0, -2), b.shape().sub(0, -2));
        return batch.append(a.shape().dim(ta ? -1 : -2), b.shape().dim(tb ? -2 : -1));
    }
}
