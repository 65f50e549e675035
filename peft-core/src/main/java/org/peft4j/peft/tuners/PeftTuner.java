package org.peft4j.peft.tuners;

import org.peft4j.models.PreTrainedModel;
import org.peft4j.peft.config.ConfigJson;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.peft.config.PeftType;

/**
 * A PEFT method plugged in through {@link java.util.ServiceLoader}: modules such as peft-lora list their
 * implementation in {@code META-INF/services/org.peft4j.peft.tuners.PeftTuner}.
 */
public interface PeftTuner {
    /** The method this tuner implements. */
    PeftType peftType();

    /** Parses the method's config from {@code adapter_config.json}. */
    PeftConfig parseConfig(ConfigJson json);

    /** A tuner model bound to {@code model}, holding no adapter yet. */
    TunerModel createModel(PreTrainedModel model);
}
