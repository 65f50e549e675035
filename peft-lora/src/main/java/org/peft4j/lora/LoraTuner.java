package org.peft4j.lora;

import org.peft4j.models.PreTrainedModel;
import org.peft4j.peft.config.ConfigJson;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.peft.config.PeftType;
import org.peft4j.peft.tuners.PeftTuner;
import org.peft4j.peft.tuners.TunerModel;

/** Registers LoRA with peft-core's tuner registry (listed in {@code META-INF/services}). */
public final class LoraTuner implements PeftTuner {
    @Override
    public PeftType peftType() {
        return PeftType.LORA;
    }

    @Override
    public PeftConfig parseConfig(ConfigJson json) {
        return LoraConfig.fromJson(json);
    }

    @Override
    public TunerModel createModel(PreTrainedModel model) {
        return new LoraModel(model);
    }
}
