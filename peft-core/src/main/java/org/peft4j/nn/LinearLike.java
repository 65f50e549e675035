package org.peft4j.nn;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.tensor.Tensor;

/**
 * A layer that computes {@code y = x W^T + b} for some weight {@code W} [out_features, in_features], however the
 * weight is stored: {@link Linear} ([out, in]), GPT-2's {@link Conv1D} ([in, out], {@link #fanInFanOut()}), or a
 * quantized layer whose packed storage is dequantized on use. Adapter methods (LoRA, DoRA, and weight-based inits such
 * as PiSSA and OLoRA) read and, where the layer allows it, rewrite the weight through this contract.
 *
 * <p>The <em>dense weight</em> is {@code W} as a float32 [out, in] tensor: for a plain layer its weight converted to
 * float32 (and transposed for fan-in-fan-out storage), for a quantized layer the dequantized weight.
 */
public interface LinearLike {
    /** Input features ({@code in_features}). */
    long inFeatures();

    /** Output features ({@code out_features}). */
    long outFeatures();

    /** Whether the stored weight is [in, out] (GPT-2's {@code Conv1D}, PEFT's {@code fan_in_fan_out}). */
    boolean fanInFanOut();

    /** The bias [out_features], or null. */
    Parameter bias();

    /** Whether the weight has data (false for a layer built shape-only whose weights are not loaded yet). */
    boolean hasWeightData();

    /**
     * The dense weight, float32 [out, in] (dequantized for quantized layers). It may share storage with the layer
     * (e.g. a float32 {@link Linear} returns its own weight tensor): callers must not modify it.
     *
     * @throws IllegalStateException if the weight has no data
     */
    Tensor denseWeight();

    /**
     * Emits the dense weight, float32 [out, in], into {@code g} as a function of this layer's parameters (so that it
     * is differentiable where the storage allows), e.g. for DoRA's weight norm in the forward pass.
     */
    Value denseWeight(Graph g);

    /**
     * The parameter holding the weight when the layer stores it plainly, i.e. as a floating tensor equal to the dense
     * weight up to its dtype and, with {@link #fanInFanOut()}, a transposition; merges may then update that tensor in
     * its own layout and dtype (in place where its storage is writable). Null for other storage (quantized, scaled,
     * ...), whose merges go through {@link #denseWeight()} and {@link #setDenseWeight(Tensor)}.
     */
    default Parameter plainWeight() {
        return null;
    }

    /**
     * Replaces the weight by {@code w}, a dense [out, in] tensor of any floating dtype, converted to the layer's
     * storage (e.g. rounded to its dtype, transposed, or re-quantized).
     *
     * @throws UnsupportedOperationException if the layer cannot take a new weight (then adapters on it cannot be
     *     merged into it, nor initialised by methods that rewrite the base weight)
     * @throws IllegalArgumentException if {@code w} is not [out, in]
     */
    void setDenseWeight(Tensor w);

    /**
     * Checks that {@code w} is a dense weight for {@code layer}: a floating [out, in] tensor.
     *
     * @throws IllegalArgumentException otherwise
     */
    static void checkDenseShape(LinearLike layer, Tensor w) {
        long[] s = w.shape();
        if (s.length != 2 || s[0] != layer.outFeatures() || s[1] != layer.inFeatures() || !w.dtype().isFloating()) {
            throw new IllegalArgumentException("expected a floating dense weight [" + layer.outFeatures() + ", "
                    + layer.inFeatures() + "], got " + w);
        }
    }
}
