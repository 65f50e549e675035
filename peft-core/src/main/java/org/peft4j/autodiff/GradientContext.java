package org.peft4j.autodiff;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Shape;
import org.peft4j.graph.Value;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/** Helpers shared by gradient rules: broadcasting reduction, zeros, shapes. */
final class GradientContext {
    final Graph g;

    GradientContext(Graph g) {
        this.g = g;
    }

    /** The full runtime shape of {@code x} as int64 [rank]. */
    Value shape(Value x) {
        return g.shapeOf(x, 0, x.rank());
    }

    /** A tensor of zeros with x's dtype and runtime shape. */
    Value zerosLike(Value x) {
        Tensor zero = Tensor.zeros(x.dtype() == DType.F64 ? DType.F64 : DType.F32, 1);
        if (x.dtype() != DType.F64 && x.dtype() != DType.F32) {
            zero = zero.to(x.dtype());
        }
        return g.node("ConstantOfShape", "", List.of(shape(x)), List.of(x.dtype()), List.of(x.shape()),
                Map.of("value", zero)).output(0);
    }

    /**
     * Sums {@code grad} over the axes along which {@code target} was broadcast, giving target's shape. Uses the
     * static shapes: an axis is reduced when it is a leading extra axis or when the target's dimension is a fixed 1
     * and the gradient's is not. (Symbolic dimensions are taken as never broadcast from 1.)
     */
    Value reduceTo(Value grad, Value target) {
        Shape gs = grad.shape();
        Shape ts = target.shape();
        if (gs.equals(ts)) {
            return grad;
        }
        int r = gs.rank();
        int offset = r - ts.rank();
        if (offset < 0) {
            throw new IllegalStateException("gradient " + grad + " has lower rank than its input " + target);
        }
        List<Long> axes = new ArrayList<>();
        for (int i = 0; i < r; i++) {
            int ti = i - offset;
            if (ti < 0) {
                axes.add((long) i);
                continue;
            }
            Dim td = ts.dim(ti);
            Dim gd = gs.dim(i);
            if (td.isFixed() && td.size() == 1 && !(gd.isFixed() && gd.size() == 1)) {
                axes.add((long) i);
            }
        }
        Value summed = grad;
        if (!axes.isEmpty()) {
            long[] ax = axes.stream().mapToLong(Long::longValue).toArray();
            summed = g.reduceSum(grad, true, ax);
        }
        if (summed.rank() == ts.rank() && axes.stream().allMatch(a -> a >= offset)) {
            return summed;
        }
        return g.reshape(summed, shape(target), ts);
    }

    /** Transposes the last two axes. */
    Value transposeLast2(Value x) {
        long[] perm = new long[x.rank()];
        for (int i = 0; i < perm.length; i++) {
            perm[i] = i;
        }
        perm[perm.length - 1] = perm.length - 2;
        perm[perm.length - 2] = perm.length - 1;
        return g.transpose(x, perm);
    }

    /** A scalar constant with x's dtype. */
    Value scalar(double v, Value like) {
        return g.scalar(v, like.dtype());
    }

    /** The constant int64 values of a constant input, or null if the input is not a constant. */
    static long[] constInts(Value v) {
        return v != null && v.constant() != null ? v.constant().toLongArray() : null;
    }
}
