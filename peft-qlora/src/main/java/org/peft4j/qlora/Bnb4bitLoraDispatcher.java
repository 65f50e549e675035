package org.peft4j.qlora;

import org.peft4j.lora.LoraAdapterSpec;
import org.peft4j.lora.LoraConfig;
import org.peft4j.lora.LoraDispatcher;
import org.peft4j.lora.LoraLayer;
import org.peft4j.nn.Layer;

/**
 * PEFT's {@code dispatch_bnb_4bit}: a {@link LoraLinear4bit} for a {@link Linear4bit} target, null otherwise.
 * Registered in {@code META-INF/services/org.peft4j.lora.LoraDispatcher}, so {@code getPeftModel} with a
 * {@code LoraConfig} wraps 4-bit layers with no further setup.
 */
public final class Bnb4bitLoraDispatcher implements LoraDispatcher {
    @Override
    public LoraLayer dispatch(Layer target, String adapterName, LoraConfig config, LoraAdapterSpec spec) {
        return target instanceof Linear4bit l ? new LoraLinear4bit(l) : null;
    }

    @Override
    public String toString() {
        return "Bnb4bitLoraDispatcher";
    }
}
