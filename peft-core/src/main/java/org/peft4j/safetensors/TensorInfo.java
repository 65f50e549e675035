package org.peft4j.safetensors;

import java.util.Arrays;
import java.util.Objects;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * What a safetensors header says about one tensor: name, dtype, shape and where its bytes are. Reading it maps
 * nothing.
 *
 * <p>{@link #begin()} and {@link #end()} are the header's {@code data_offsets}: byte offsets relative to the start of
 * the data section (which begins right after the 8-byte length and the header). {@link #fileOffset()} is the absolute
 * position of the first byte in the file.
 */
public final class TensorInfo {
    private final String name;
    private final DType dtype;
    private final long[] shape;
    private final long begin;
    private final long end;
    private final long dataStart;

    TensorInfo(String name, DType dtype, long[] shape, long begin, long end, long dataStart) {
        this.name = Objects.requireNonNull(name, "name");
        this.dtype = Objects.requireNonNull(dtype, "dtype");
        this.shape = shape.clone();
        this.begin = begin;
        this.end = end;
        this.dataStart = dataStart;
    }

    /** The tensor's name (its key in the header). */
    public String name() {
        return name;
    }

    /**
     * The element type.
     *
     * @return the dtype
     */
    public DType dtype() {
        return dtype;
    }

    /** A copy of the shape; empty for a scalar (rank 0). */
    public long[] shape() {
        return shape.clone();
    }

    /** Number of elements (1 for a scalar, 0 when a dimension is 0). */
    public long numel() {
        return Tensor.numel(shape);
    }

    /** First byte, relative to the data section ({@code data_offsets[0]}). */
    public long begin() {
        return begin;
    }

    /** One past the last byte, relative to the data section ({@code data_offsets[1]}). */
    public long end() {
        return end;
    }

    /** Number of bytes, {@code end - begin}. */
    public long byteLength() {
        return end - begin;
    }

    /** Absolute file position of the first byte: {@code 8 + headerLength + begin}. */
    public long fileOffset() {
        return dataStart + begin;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof TensorInfo)) {
            return false;
        }
        TensorInfo t = (TensorInfo) o;
        return name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape) && begin == t.begin
                && end == t.end && dataStart == t.dataStart;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape), begin, end, dataStart);
    }

    @Override
    public String toString() {
        return "TensorInfo(" + name + ", " + dtype + ", " + Arrays.toString(shape) + ", [" + begin + ", " + end + "))";
    }
}
