package org.peft4j.lora;

import org.peft4j.nn.Layer;

/**
 * A dispatcher found by {@link java.util.ServiceLoader} (listed in the test resources' {@code META-INF/services}): LoRA
 * on {@link LoraExtensionTest.ServiceScaledLinear} layers only, so it leaves every other test alone.
 */
public final class TestServiceDispatcher implements LoraDispatcher {
    @Override
    public LoraLayer dispatch(Layer target, String adapterName, LoraConfig config, LoraAdapterSpec spec) {
        return target instanceof LoraExtensionTest.ServiceScaledLinear
                ? new LoraLinear((LoraExtensionTest.ServiceScaledLinear) target) : null;
    }
}
