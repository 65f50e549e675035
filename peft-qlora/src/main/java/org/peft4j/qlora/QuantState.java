package org.peft4j.qlora;

import java.util.Objects;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * The quantization state of one 4-bit weight, as bitsandbytes' {@code QuantState}: the per-block scales and what is
 * needed to turn the packed codes back into the weight. The packed codes themselves (a uint8 tensor of
 * {@code (numel + 1) / 2} bytes, the first element of each pair in the high nibble) are held next to it.
 *
 * <p>Without double quantization {@code absmax} is float32 [nblocks]; with it ({@code compress_statistics=True})
 * {@code absmax} is uint8 [nblocks], codes into {@link Nested#code()} scaled per block of {@link Nested#blocksize()}
 * by {@link Nested#absmax()}, plus {@link Nested#offset()}. Immutable and thread-safe; tensors are not copied and must
 * not be modified by callers.
 *
 * @param quantType NF4 or FP4
 * @param blocksize elements per absmax block (64 by default)
 * @param shape the original weight's shape, e.g. [out_features, in_features]
 * @param dtype the original weight's dtype (the dequantized weight's dtype)
 * @param absmax per-block scales: float32, or uint8 codes when {@code nested} is set
 * @param code the 16-entry float32 code table (bnb's {@code quant_map})
 * @param nested the double-quantization state, or null
 */
public record QuantState(QuantType quantType, int blocksize, long[] shape, DType dtype, Tensor absmax, Tensor code,
        Nested nested) {

    /**
     * The state of double quantization: the absmax values minus {@code offset}, quantized block-wise to 8 bits with
     * the dynamic map.
     *
     * @param offset the mean of the absmax values that was subtracted before quantizing them
     * @param absmax float32 scale per block of {@code blocksize} absmax values
     * @param code the 256-entry float32 dynamic map
     * @param blocksize absmax values per nested block (256 in bitsandbytes)
     */
    public record Nested(float offset, Tensor absmax, Tensor code, int blocksize) {
        /**
         * Checks that the tensors are not null.
         *
         * @throws NullPointerException if {@code absmax} or {@code code} is null
         */
        public Nested {
            Objects.requireNonNull(absmax, "absmax");
            Objects.requireNonNull(code, "code");
        }
    }

    /**
     * Checks that the required parts are not null.
     *
     * @throws NullPointerException if a required part is null
     */
    public QuantState {
        Objects.requireNonNull(quantType, "quantType");
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(absmax, "absmax");
        Objects.requireNonNull(code, "code");
        shape = shape.clone();
    }

    /**
     * The original tensor's shape.
     *
     * @return a copy of the shape
     */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** The number of elements of the original weight. */
    public long numel() {
        return Tensor.numel(shape);
    }

    /** The number of absmax blocks, {@code ceil(numel / blocksize)}. */
    public long numBlocks() {
        return (numel() + blocksize - 1) / blocksize;
    }

    /** Whether absmax is double-quantized. */
    public boolean isNested() {
        return nested != null;
    }
}
