package org.peft4j.tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;

/**
 * A dense, row-major tensor: a dtype, a shape and little-endian bytes in a {@link ByteBuffer}.
 *
 * <p>Tensors are views: wrapping a region of a memory-mapped file copies nothing, and {@link #data()} returns the
 * same storage (as a read-only duplicate with its own position). Tensors created here use direct buffers so that ONNX
 * Runtime can read them without a copy. A tensor is immutable in shape and dtype. Its bytes can be changed in place
 * only through {@link #write} (or by a compiled graph writing its outputs into it), which bumps {@link #version()}:
 * so every in-place write is seen by the caches of compiled graphs that bind the tensor, and no session ever runs on
 * stale weights (on CUDA a session copies its weights when it is created).
 *
 * <p>Not thread-safe for concurrent writes; concurrent reads are safe.
 */
public final class Tensor {
    private final DType dtype;
    private final long[] shape;
    private final ByteBuffer data;
    /** Bumped by {@link #markModified()}; read by caches of compiled graphs that bind this tensor. */
    private volatile long version;

    private Tensor(DType dtype, long[] shape, ByteBuffer data) {
        this.dtype = Objects.requireNonNull(dtype, "dtype");
        this.shape = shape.clone();
        long n = numel(this.shape);
        long bytes = n * dtype.byteSize();
        if (bytes != data.remaining()) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " of " + dtype + " needs " + bytes
                    + " bytes, buffer has " + data.remaining());
        }
        this.data = data.slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Wraps existing little-endian bytes (from position to limit) without copying.
     *
     * @throws IllegalArgumentException if the byte count does not match the shape
     */
    public static Tensor wrap(DType dtype, long[] shape, ByteBuffer data) {
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
        }
        return new Tensor(dtype, shape, data);
    }

    /** A new zero-filled tensor in a direct buffer. */
    public static Tensor zeros(DType dtype, long... shape) {
        long bytes = numel(shape) * dtype.byteSize();
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("tensor of " + bytes + " bytes exceeds the 2 GiB limit of one buffer");
        }
        return new Tensor(dtype, shape, allocate((int) bytes));
    }

    /** A float32 tensor holding a copy of {@code values}. */
    public static Tensor of(float[] values, long... shape) {
        ByteBuffer b = allocate(values.length * 4);
        b.asFloatBuffer().put(values);
        return new Tensor(DType.F32, shape, b);
    }

    /** A float64 tensor holding a copy of {@code values}. */
    public static Tensor of(double[] values, long... shape) {
        ByteBuffer b = allocate(values.length * 8);
        b.asDoubleBuffer().put(values);
        return new Tensor(DType.F64, shape, b);
    }

    /** An int64 tensor holding a copy of {@code values}. */
    public static Tensor of(long[] values, long... shape) {
        ByteBuffer b = allocate(values.length * 8);
        b.asLongBuffer().put(values);
        return new Tensor(DType.I64, shape, b);
    }

    /** An int32 tensor holding a copy of {@code values}. */
    public static Tensor of(int[] values, long... shape) {
        ByteBuffer b = allocate(values.length * 4);
        b.asIntBuffer().put(values);
        return new Tensor(DType.I32, shape, b);
    }

    /** A float32 scalar (rank 0). */
    public static Tensor scalar(float v) {
        return of(new float[] {v});
    }

    static ByteBuffer allocate(int bytes) {
        return ByteBuffer.allocateDirect(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Number of elements of a shape (1 for a scalar). */
    public static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /**
     * The element type.
     *
     * @return the dtype
     */
    public DType dtype() {
        return dtype;
    }

    /** A copy of the shape. */
    public long[] shape() {
        return shape.clone();
    }

    /**
     * The number of dimensions.
     *
     * @return the rank
     */
    public int rank() {
        return shape.length;
    }

    /** Size of dimension {@code i}; negative indexes count from the end. */
    public long dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    /**
     * The number of elements (the product of the shape; 1 for a scalar).
     *
     * @return the element count
     */
    public long numel() {
        return numel(shape);
    }

    /**
     * The size of the storage in bytes.
     *
     * @return the byte size
     */
    public long byteSize() {
        return data.capacity();
    }

    /**
     * The storage as a read-only little-endian view positioned at 0 (shares bytes with this tensor). Write with
     * {@link #write}.
     */
    public ByteBuffer data() {
        return data.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** What {@link #write} runs: it gets a writable little-endian view of the storage positioned at 0. */
    @FunctionalInterface
    public interface Writer {
        /**
         * Fills the storage.
         *
         * @param storage a writable little-endian view positioned at 0
         */
        void write(ByteBuffer storage);
    }

    /**
     * Changes this tensor's bytes in place and then {@linkplain #markModified() marks it modified}, also when the
     * writer throws (part of the bytes may have been written).
     *
     * @throws IllegalStateException if the storage is read-only (memory-mapped): give the owner a {@link #copy()}
     */
    public void write(Writer writer) {
        if (data.isReadOnly()) {
            throw new IllegalStateException("cannot write in place into read-only (memory-mapped) storage: " + this
                    + "; use a copy");
        }
        try {
            writer.write(data.duplicate().order(ByteOrder.LITTLE_ENDIAN));
        } finally {
            markModified();
        }
    }

    /** Overwrites every element of a float32 tensor with {@code values} in place (see {@link #write}). */
    public void writeFloats(float[] values) {
        if (dtype != DType.F32 || values.length != numel()) {
            throw new IllegalArgumentException("expected " + numel() + " float32 values for " + this + ", got "
                    + values.length);
        }
        write(b -> b.asFloatBuffer().put(values));
    }

    /**
     * How many times this tensor's bytes were declared changed in place with {@link #markModified()} (0 for a new
     * tensor), as PyTorch's tensor version counter. Compiled graphs that bind this tensor as a frozen weight are cached
     * per version, so a graph compiled before an in-place change is not reused after it (ONNX Runtime may have derived
     * constants from the old bytes at session creation).
     */
    public long version() {
        return version;
    }

    /**
     * Declares that this tensor's bytes were written in place. {@link #write} and compiled graphs writing outputs
     * into the tensor call it; code that hands the storage to native code that writes it calls it after the write;
     * see {@link #version()}. Other tensor objects over the same storage ({@link #reshape} views) keep their
     * own counters.
     */
    public synchronized void markModified() {
        version++;
    }

    /** Whether the storage can be written in place: a direct buffer that is not read-only (not memory-mapped). */
    public boolean isWritableDirect() {
        return data.isDirect() && !data.isReadOnly();
    }

    /** Whether the storage is a direct (off-heap or memory-mapped) buffer that ONNX Runtime can use without a copy. */
    public boolean isDirect() {
        return data.isDirect();
    }

    /** The same bytes seen with another shape of equal element count. */
    public Tensor reshape(long... newShape) {
        if (numel(newShape) != numel()) {
            throw new IllegalArgumentException("cannot reshape " + Arrays.toString(shape) + " to " + Arrays.toString(newShape));
        }
        return new Tensor(dtype, newShape, data());
    }

    /** Element {@code i} (flat index) as a float, converting from any floating or integer dtype. */
    public float getFloat(long i) {
        return (float) getDouble(i);
    }

    /** Element {@code i} (flat index) as a double. */
    public double getDouble(long i) {
        int idx = Math.toIntExact(i);
        switch (dtype) {
            case F32: return data.getFloat(idx * 4);
            case F64: return data.getDouble(idx * 8);
            case F16: return HalfFloats.f16ToFloat(data.getShort(idx * 2));
            case BF16: return HalfFloats.bf16ToFloat(data.getShort(idx * 2));
            case I64: case U64: return data.getLong(idx * 8);
            case I32: return data.getInt(idx * 4);
            case U32: return data.getInt(idx * 4) & 0xFFFFFFFFL;
            case I16: return data.getShort(idx * 2);
            case U16: return data.getShort(idx * 2) & 0xFFFF;
            case I8: return data.get(idx);
            case U8: case BOOL: return data.get(idx) & 0xFF;
            default: throw new AssertionError(dtype);
        }
    }

    /** Element {@code i} (flat index) of an integer tensor as a long. */
    public long getLong(long i) {
        int idx = Math.toIntExact(i);
        switch (dtype) {
            case I64: case U64: return data.getLong(idx * 8);
            case I32: return data.getInt(idx * 4);
            case U32: return data.getInt(idx * 4) & 0xFFFFFFFFL;
            case I16: return data.getShort(idx * 2);
            case U16: return data.getShort(idx * 2) & 0xFFFF;
            case I8: return data.get(idx);
            case U8: case BOOL: return data.get(idx) & 0xFF;
            default: return (long) getDouble(i);
        }
    }

    /** All elements as floats (a copy, converting from the stored dtype). */
    public float[] toFloatArray() {
        int n = Math.toIntExact(numel());
        float[] out = new float[n];
        if (dtype == DType.F32) {
            data().asFloatBuffer().get(out);
            return out;
        }
        for (int i = 0; i < n; i++) {
            out[i] = getFloat(i);
        }
        return out;
    }

    /** All elements as doubles (a copy). */
    public double[] toDoubleArray() {
        int n = Math.toIntExact(numel());
        double[] out = new double[n];
        if (dtype == DType.F64) {
            data().asDoubleBuffer().get(out);
            return out;
        }
        for (int i = 0; i < n; i++) {
            out[i] = getDouble(i);
        }
        return out;
    }

    /** All elements as longs (a copy). */
    public long[] toLongArray() {
        int n = Math.toIntExact(numel());
        long[] out = new long[n];
        if (dtype == DType.I64) {
            data().asLongBuffer().get(out);
            return out;
        }
        for (int i = 0; i < n; i++) {
            out[i] = getLong(i);
        }
        return out;
    }

    /**
     * This tensor converted to another floating dtype (a new direct buffer; F16/BF16 rounding to nearest even).
     * Returns {@code this} when the dtype already matches.
     */
    public Tensor to(DType target) {
        if (target == dtype) {
            return this;
        }
        if (!dtype.isFloating() || !target.isFloating()) {
            throw new IllegalArgumentException("conversion " + dtype + " -> " + target + " is not supported");
        }
        int n = Math.toIntExact(numel());
        long bytes = (long) n * target.byteSize();
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("converted tensor of " + bytes + " bytes exceeds 2 GiB");
        }
        ByteBuffer out = allocate((int) bytes);
        for (int i = 0; i < n; i++) {
            switch (target) {
                case F32: out.putFloat(i * 4, getFloat(i)); break;
                case F64: out.putDouble(i * 8, getDouble(i)); break;
                case F16: out.putShort(i * 2, HalfFloats.floatToF16(getFloat(i))); break;
                case BF16: out.putShort(i * 2, HalfFloats.floatToBf16(getFloat(i))); break;
                default: throw new AssertionError(target);
            }
        }
        return new Tensor(target, shape, out);
    }

    /** A deep copy in a fresh, writable direct buffer. */
    public Tensor copy() {
        ByteBuffer out = allocate(Math.toIntExact(byteSize()));
        out.put(data());
        out.flip();
        return new Tensor(dtype, shape, out);
    }

    /** Whether dtype, shape and every byte are equal. */
    public boolean contentEquals(Tensor other) {
        return other != null && dtype == other.dtype && Arrays.equals(shape, other.shape) && data().equals(other.data());
    }

    @Override
    public String toString() {
        return "Tensor(" + dtype + ", " + Arrays.toString(shape) + ")";
    }
}
