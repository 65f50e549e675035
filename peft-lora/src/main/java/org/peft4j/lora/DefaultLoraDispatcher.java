package org.peft4j.lora;

import org.peft4j.nn.Conv1D;
import org.peft4j.nn.Embedding;
import org.peft4j.nn.Layer;
import org.peft4j.nn.Linear;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * LoRA's built-in layers (PEFT's {@code dispatch_default}): {@link LoraMergedLinear} for a {@link Linear} or
 * {@link Conv1D} when {@code enable_lora} is set, {@link LoraLinear} for a {@link Linear} or GPT-2 {@link Conv1D}
 * (forcing {@code fan_in_fan_out} to match, with PEFT's warnings), {@link LoraEmbedding} for an {@link Embedding};
 * null for anything else.
 */
public final class DefaultLoraDispatcher implements LoraDispatcher {
    /** The default dispatcher. */
    public static final DefaultLoraDispatcher INSTANCE = new DefaultLoraDispatcher();

    private static final Logger LOG = LoggerFactory.getLogger(LoraModel.class);

    private DefaultLoraDispatcher() {
    }

    @Override
    public LoraLayer dispatch(Layer target, String adapterName, LoraConfig cfg, LoraAdapterSpec spec) {
        if (cfg.enableLora() != null && target instanceof Linear) {
            return new LoraMergedLinear((Linear) target, cfg.enableLora());
        } else if (cfg.enableLora() != null && target instanceof Conv1D) {
            return new LoraMergedLinear((Conv1D) target, cfg.enableLora());
        } else if (target instanceof Linear) {
            if (cfg.fanInFanOut()) {
                LOG.warn("fan_in_fan_out is set to True but the target module is `torch.nn.Linear`. Setting "
                        + "fan_in_fan_out to False.");
                cfg.setFanInFanOut(false);
            }
            return new LoraLinear((Linear) target);
        } else if (target instanceof Conv1D) {
            if (!cfg.fanInFanOut()) {
                LOG.warn("fan_in_fan_out is set to False but the target module is `Conv1D`. Setting fan_in_fan_out "
                        + "to True.");
                cfg.setFanInFanOut(true);
            }
            return new LoraLinear((Conv1D) target);
        } else if (target instanceof Embedding) {
            return new LoraEmbedding((Embedding) target);
        }
        return null;
    }

    @Override
    public String toString() {
        return "DefaultLoraDispatcher";
    }
}
