package org.peft4j.qlora;

import org.peft4j.lora.LoftQConfig;
import org.peft4j.lora.LoraAdapterSpec;
import org.peft4j.lora.LoraConfig;
import org.peft4j.lora.LoraWeightInitializer;
import org.peft4j.nn.Linear;
import org.peft4j.nn.LinearLike;

/**
 * {@code init_lora_weights="loftq"} for peft-lora (registered in
 * {@code META-INF/services/org.peft4j.lora.LoraWeightInitializer}): PEFT's {@code LoraLayer.loftq_init}, i.e.
 * {@link LoftQ#loftqInit} on the base layer's dense weight with {@code loftq_config}'s bits and iterations and the
 * adapter's rank; the base weight becomes the dequantized Q, {@code lora_A = R}, {@code lora_B = L}, with no division
 * by the scaling. Stateless.
 */
public final class LoftQInitializer implements LoraWeightInitializer {
    @Override
    public String name() {
        return LoraConfig.LOFTQ;
    }

    @Override
    public void initialize(LinearLike base, Linear loraA, Linear loraB, LoraAdapterSpec spec, double scaling) {
        LoftQConfig c = spec.loftqConfig();
        if (c == null) {
            throw new IllegalArgumentException("`loftq_config` must be specified when `init_lora_weights` is 'loftq'.");
        }
        if (base.fanInFanOut()) {
            throw new UnsupportedOperationException("init_lora_weights=loftq on a fan_in_fan_out (Conv1D) layer is "
                    + "not supported by peft4j");
        }
        LoftQ.Result r = LoftQ.loftqInit(base.denseWeight(), c.loftqBits(), spec.r(), c.loftqIter());
        loraA.weight().setData(r.loraA());
        loraB.weight().setData(r.loraB());
        base.setDenseWeight(r.dequantizedWeight());
    }
}
