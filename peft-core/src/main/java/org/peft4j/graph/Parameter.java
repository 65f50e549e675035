package org.peft4j.graph;

import java.util.Arrays;
import java.util.Objects;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * A learnable value of a module: shape, dtype, optional storage and a trainable flag.
 *
 * <p>A parameter may be <em>shape-only</em> (no storage), so that models can be built from a configuration to
 * inspect their structure and parameter counts without allocating weights. Its dotted name is not stored here: it
 * follows from where the parameter sits in the module tree ({@code namedParameters()}), exactly as in PyTorch.
 * When a graph is compiled, a parameter becomes either an initializer (frozen, its storage handed to ONNX Runtime
 * without a copy) or a graph input (trainable values and switchable adapters).
 */
public final class Parameter {
    private final DType dtype;
    private final long[] shape;
    private Tensor data;
    private boolean trainable;
    private int packing = 1;

    /**
     * A shape-only parameter (no storage), trainable by default as in PyTorch when it is floating; a parameter of an
     * integer or boolean dtype (e.g. packed 4-bit codes) is never trainable.
     */
    public Parameter(DType dtype, long... shape) {
        this.dtype = Objects.requireNonNull(dtype, "dtype");
        this.shape = shape.clone();
        this.trainable = dtype.isFloating();
    }

    /** A parameter holding {@code data}. */
    public Parameter(Tensor data) {
        this(data.dtype(), data.shape());
        this.data = data;
    }

    /**
     * The element type.
     *
     * @return the dtype
     */
    public DType dtype() {
        return dtype;
    }

    /**
     * The shape.
     *
     * @return a copy of the shape
     */
    public long[] shape() {
        return shape.clone();
    }

    /**
     * The number of elements.
     *
     * @return the element count
     */
    public long numel() {
        return Tensor.numel(shape);
    }

    /** Whether storage is attached. */
    public boolean hasData() {
        return data != null;
    }

    /**
     * The storage.
     *
     * @throws IllegalStateException for a shape-only parameter
     */
    public Tensor data() {
        if (data == null) {
            throw new IllegalStateException("parameter " + Arrays.toString(shape) + " has no data (built shape-only)");
        }
        return data;
    }

    /** The storage, or null for a shape-only parameter. */
    public Tensor dataOrNull() {
        return data;
    }

    /**
     * Replaces the storage.
     *
     * @throws IllegalArgumentException if the tensor's dtype or shape differ from the parameter's
     */
    public void setData(Tensor t) {
        if (t != null && (t.dtype() != dtype || !Arrays.equals(t.shape(), shape))) {
            throw new IllegalArgumentException("expected " + dtype + " " + Arrays.toString(shape) + ", got " + t.dtype()
                    + " " + Arrays.toString(t.shape()));
        }
        this.data = t;
    }

    /** Whether the parameter receives gradients in training graphs ({@code requires_grad}). */
    public boolean trainable() {
        return trainable;
    }

    /**
     * Sets whether the parameter receives gradients. Only floating parameters can (PyTorch: "only Tensors of floating
     * point and complex dtype can require gradients"): for any other dtype the flag stays false, so that
     * {@code requiresGrad(true)} on a module holding packed quantized weights leaves them frozen.
     */
    public Parameter setTrainable(boolean trainable) {
        this.trainable = trainable && dtype.isFloating();
        return this;
    }

    /**
     * How many elements of the original tensor one stored element holds: 1 normally, 2 for 4-bit codes packed two per
     * byte. PEFT counts such a parameter as {@code numel * packing} ({@code get_nb_trainable_parameters}).
     */
    public int packing() {
        return packing;
    }

    /**
     * Sets {@link #packing()}.
     *
     * @throws IllegalArgumentException if {@code packing} is below 1
     */
    public Parameter setPacking(int packing) {
        if (packing < 1) {
            throw new IllegalArgumentException("packing must be at least 1, got " + packing);
        }
        this.packing = packing;
        return this;
    }

    @Override
    public String toString() {
        return "Parameter(" + dtype + ", " + Arrays.toString(shape) + (trainable ? ", trainable" : "") + ")";
    }
}
