package org.peft4j.lora;

import org.peft4j.nn.Linear;
import org.peft4j.nn.LinearLike;

/**
 * A named {@code init_lora_weights} method provided by another module and found with {@link java.util.ServiceLoader}
 * (listed in {@code META-INF/services/org.peft4j.lora.LoraWeightInitializer}), so that peft-lora does not depend on
 * the modules that implement it; e.g. {@code "loftq"} from peft-qlora. Implementations must be stateless.
 */
public interface LoraWeightInitializer {
    /** The {@code init_lora_weights} value this initialiser handles, e.g. {@code "loftq"}. */
    String name();

    /**
     * Initialises one adapter of a linear LoRA layer: sets {@code loraA} ([r, in]) and {@code loraB} ([out, r]) and,
     * for methods that do, rewrites the base weight through {@link LinearLike#setDenseWeight}.
     *
     * @param base the base layer (its weight is read with {@link LinearLike#denseWeight()})
     * @param loraA the adapter's A layer
     * @param loraB the adapter's B layer
     * @param spec the adapter's spec (rank, alpha, {@link LoraAdapterSpec#loftqConfig()}, ...)
     * @param scaling the adapter's scaling ({@code alpha / r}, or {@code alpha / sqrt(r)} with rslora)
     */
    void initialize(LinearLike base, Linear loraA, Linear loraB, LoraAdapterSpec spec, double scaling);
}
