package org.peft4j.peft.prompt;

import java.util.Map;
import org.peft4j.peft.config.ConfigJson;
import org.peft4j.peft.config.PeftType;
import org.peft4j.peft.tuners.PromptLearningConfig;

/** Test-only: a few trainable virtual-token embeddings (prompt tuning reduced to its core). */
public final class VirtualTokensConfig extends PromptLearningConfig {
    public VirtualTokensConfig(int numVirtualTokens) {
        super(PeftType.MULTITASK_PROMPT_TUNING);
        this.numVirtualTokens = numVirtualTokens;
    }

    /** Test-only: the weight of an L2 penalty on the active prompt that the tuner adds to the loss (0: none). */
    double l2 = 0;

    /** This config with an L2 penalty {@code l2 * sum(prompt^2)} added to the training loss by the tuner. */
    VirtualTokensConfig withL2(double l2) {
        this.l2 = l2;
        return this;
    }

    static VirtualTokensConfig fromJson(ConfigJson j) {
        VirtualTokensConfig c = new VirtualTokensConfig(0);
        c.readPromptLearning(j);
        return c;
    }

    @Override
    public VirtualTokensConfig copy() {
        VirtualTokensConfig c = new VirtualTokensConfig(numVirtualTokens);
        copyPromptLearningTo(c);
        c.l2 = l2;
        return c;
    }

    @Override
    protected Map<String, Object> methodFields() {
        return promptLearningFields();
    }
}
