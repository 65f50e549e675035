package org.peft4j.lora;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.tensor.Tensor;

/**
 * A variant of LoRA on a linear layer (PEFT's {@code LoraVariant}), e.g. {@link DoraVariant}: it changes how an
 * adapter is initialised, merged, unmerged and computed. A {@link LoraLinear} holds at most one variant per adapter
 * ({@link LoraLayer#loraVariant()}), chosen by the {@link LoraAdapterSpec} (from the config: {@code use_dora} selects
 * DoRA); plain LoRA has none. Other modules may add variants: pass one with {@link LoraAdapterSpec#withVariant}.
 *
 * <p>Variants are stateless, like PEFT's static methods: per-adapter state lives in the layer (its parameters, and
 * {@link LoraLayer#cacheStore} / {@link LoraLayer#cachePop} for what a merge must remember for its unmerge). The merge
 * arithmetic they need is in {@link LoraMath}.
 */
public interface LoraVariant {
    /** Called by {@link LoraLinear#updateLayer} after A and B are created and initialised (PEFT's {@code init}). */
    void init(LoraLinear layer, String adapter);

    /**
     * Merges the adapter into the base weight (PEFT's {@code merge_safe} and {@code merge_unsafe}).
     *
     * @param w the weight to merge into, in its layout ({@link LoraMath.Target#fanInFanOut()})
     * @param check whether to compute {@link LoraMath.Merged#finite} (a safe merge)
     * @param inPlace whether to write the result into {@code w.weight()} (else into a new tensor)
     * @return the merged weight, laid out as {@code w}
     */
    LoraMath.Merged merge(LoraLinear layer, String adapter, LoraMath.Target w, boolean check, boolean inPlace);

    /**
     * Removes the merged adapter from the base weight (PEFT's {@code unmerge}).
     *
     * @param inPlace whether to write the result into {@code w.weight()}
     * @return the unmerged weight, laid out as {@code w}
     */
    Tensor unmerge(LoraLinear layer, String adapter, LoraMath.Target w, boolean inPlace);

    /**
     * Emits the adapter's forward pass (PEFT's {@code forward}): returns the new float32 result given the running
     * float32 {@code result} (base output plus the adapters before this one) and the adapter's dropped-out float32
     * input {@code dx}.
     */
    Value forward(Graph g, LoraLinear layer, String adapter, Value dx, Value result);
}
