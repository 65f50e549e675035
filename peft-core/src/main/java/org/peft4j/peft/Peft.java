package org.peft4j.peft;

import org.peft4j.models.PreTrainedModel;
import org.peft4j.nn.Module;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.peft.tuners.BaseTunerLayer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Entry points, as PEFT's {@code get_peft_model}. */
public final class Peft {
    private static final Logger LOG = LoggerFactory.getLogger(Peft.class);

    private Peft() {
    }

    /** Wraps {@code model} with adapter "default". */
    public static PeftModel getPeftModel(PreTrainedModel model, PeftConfig config) {
        return getPeftModel(model, config, "default");
    }

    /**
     * Wraps {@code model} with a new adapter: the model's tree is modified in place (matched modules replaced by
     * adapter layers) and everything but the adapter is frozen.
     */
    public static PeftModel getPeftModel(PreTrainedModel model, PeftConfig config, String adapterName) {
        for (Module m : model.namedModules().values()) {
            if (m instanceof BaseTunerLayer) {
                LOG.warn("You are trying to modify a model with PEFT for a second time. If you want to reload the "
                        + "model, please use `PeftModel.from_pretrained` or `model.unload()` first.");
                break;
            }
        }
        config.setBaseModelNameOrPath(model.nameOrPath().isEmpty() ? null : model.nameOrPath());
        return new PeftModel(model, config, adapterName);
    }
}
