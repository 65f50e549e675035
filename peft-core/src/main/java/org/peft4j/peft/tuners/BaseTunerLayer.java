package org.peft4j.peft.tuners;

import java.util.List;
import java.util.Set;
import org.peft4j.nn.Layer;

/**
 * A layer that wraps a base layer and holds per-adapter weights ({@code BaseTunerLayer}): LoRA's Linear, Embedding
 * and their kin.
 */
public interface BaseTunerLayer {
    /** The wrapped layer (possibly with adapters merged into it). */
    Layer baseLayer();

    /** Names of the adapters this layer holds. */
    Set<String> adapterNames();

    /** The active adapters of this layer. */
    List<String> activeAdapters();

    /**
     * Activates {@code names}: their weights become trainable unless {@code inferenceMode}; the others are frozen.
     */
    void setAdapter(List<String> names, boolean inferenceMode);

    /** Enables or disables all adapters of this layer (disabled adapters emit the base path only). */
    void enableAdapters(boolean enabled);

    /**
     * Whether the adapters of this layer are disabled.
     *
     * @return true when disabled
     */
    boolean disabled();

    /** Adapters merged into the base weight, in merge order. */
    List<String> mergedAdapters();

    /**
     * Whether any adapter is merged into the base weight.
     *
     * @return true when merged
     */
    default boolean merged() {
        return !mergedAdapters().isEmpty();
    }

    /**
     * Merges adapters into the base weights.
     *
     * @param names adapters to merge; null means the active ones
     */
    void merge(boolean safeMerge, List<String> names);

    /** Undoes every merge, last merged first. */
    void unmerge();

    /** Removes {@code name} from this layer; returns the new active adapters. */
    void deleteAdapter(String name);

    /** Whether this layer holds adapter {@code name}. */
    default boolean hasAdapter(String name) {
        return adapterNames().contains(name);
    }
}
