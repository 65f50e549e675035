package org.peft4j.lora;

import org.peft4j.nn.Layer;

/**
 * Creates the LoRA layer for a target module (PEFT's {@code dispatch_*} functions, e.g. {@code dispatch_default} and
 * {@code dispatch_bnb_4bit}). {@link LoraModel} asks its dispatchers in order and the first that returns a layer
 * wins: those registered with {@link LoraModel#registerDispatcher}, then those listed in
 * {@code META-INF/services/org.peft4j.lora.LoraDispatcher}, then {@link DefaultLoraDispatcher}. The model then sets
 * the layer's active adapters and adds the adapter with {@link LoraLayer#updateLayer(LoraAdapterSpec)} (a layer may
 * override that to adjust the spec, e.g. to choose its own {@link LoraVariant}).
 */
@FunctionalInterface
public interface LoraDispatcher {
    /**
     * A new LoRA layer wrapping {@code target}, without the adapter yet, or null when this dispatcher does not handle
     * {@code target}. A dispatcher may adjust {@code config} as PEFT's do (e.g. {@code fan_in_fan_out}).
     *
     * @param target the module to wrap (not a LoRA layer: those get the adapter added directly)
     * @param adapterName the adapter being added
     * @param config the adapter's config
     * @param spec the adapter as it will be added (rank and alpha resolved for this module)
     */
    LoraLayer dispatch(Layer target, String adapterName, LoraConfig config, LoraAdapterSpec spec);
}
