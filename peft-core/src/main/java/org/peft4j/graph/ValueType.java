package org.peft4j.graph;

import java.util.Objects;
import org.peft4j.tensor.DType;

/**
 * The static type of one op output: its element type and its (possibly symbolic) shape, as returned by a
 * {@link ShapeInference}.
 *
 * @param dtype the element type
 * @param shape the static shape
 */
public record ValueType(DType dtype, Shape shape) {
    /** Checks both parts are present. */
    public ValueType {
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(shape, "shape");
    }

    /** The type of an existing value. */
    public static ValueType of(Value v) {
        return new ValueType(v.dtype(), v.shape());
    }
}
