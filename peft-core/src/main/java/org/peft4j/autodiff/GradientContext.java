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

/**
 * What a {@link GradientRule} builds its backward nodes with: the graph being differentiated and helpers for the
 * usual chores (undoing broadcasting, zeros, runtime shapes, transposes). Rules of any module get one from
 * {@link Autodiff}; every helper appends standard ONNX ops to {@link #graph()}.
 */
public final class GradientContext {
    final Graph g;

    GradientContext(Graph g) {
        this.g = g;
    }

    /** The graph the backward nodes are appended to (the forward graph itself). */
    public Graph graph() {
        return g;
    }

    /** The full runtime shape of {@code x} as a 1-D int64 value of length {@code x.rank()}. */
    public Value shape(Value x) {
        return g.shapeOf(x, 0, x.rank());
    }

    /** A tensor of zeros with x's dtype, static shape and runtime shape (for a part that gets no gradient). */
    public Value zerosLike(Value x) {
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
     * and the gradient's is not. (Symbolic dimensions are taken as never broadcast from 1.) A rule applies it to
     * the gradient of every input that the op broadcasts (elementwise ops, the batch axes of MatMul).
     *
     * @param grad the gradient of the loss with respect to the broadcast input, in the output's shape
     * @param target the input that was broadcast
     * @return {@code grad} summed down to {@code target}'s shape ({@code grad} itself when the shapes agree)
     */
    public Value reduceTo(Value grad, Value target) {
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

    /** Transposes the last two axes of {@code x} (rank at least 2): the matrix transpose of a batch of matrices. */
    public Value transposeLast2(Value x) {
        long[] perm = new long[x.rank()];
        for (int i = 0; i < perm.length; i++) {
            perm[i] = i;
        }
        perm[perm.length - 1] = perm.length - 2;
        perm[perm.length - 2] = perm.length - 1;
        return g.transpose(x, perm);
    }

    /** A rank-0 constant {@code v} with {@code like}'s dtype. */
    public Value scalar(double v, Value like) {
        return g.scalar(v, like.dtype());
    }

    /**
     * The int64 values of a constant input (axes, starts, shapes given as initializers), or null if the input is
     * absent or not a constant.
     */
    public static long[] constInts(Value v) {
        return v != null && v.constant() != null ? v.constant().toLongArray() : null;
    }
}
