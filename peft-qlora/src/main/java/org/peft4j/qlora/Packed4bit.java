package org.peft4j.qlora;

import java.util.Objects;
import org.peft4j.tensor.Tensor;

/**
 * A 4-bit quantized weight as bitsandbytes' {@code quantize_4bit} returns it: the packed codes and their state.
 * Immutable (its tensors are not modified once made), so safe to share between threads.
 *
 * @param packed uint8 {@code [(numel + 1) / 2, 1]}, two codes per byte, the first element in the high nibble
 * @param state the quantization state (absmax, possibly double-quantized, shape, dtype, code table)
 */
public record Packed4bit(Tensor packed, QuantState state) {
    /**
     * Checks that neither part is null.
     *
     * @throws NullPointerException if {@code packed} or {@code state} is null
     */
    public Packed4bit {
        Objects.requireNonNull(packed, "packed");
        Objects.requireNonNull(state, "state");
    }
}
