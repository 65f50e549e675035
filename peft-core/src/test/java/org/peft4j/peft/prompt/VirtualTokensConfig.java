package org.peft4j.peft.prompt;

import java.util.Map;
import org.peft4j.peft.config.ConfigJson;
import org.peft4j.peft.config.PeftType;
import org.peft4j.peft.tuners.PromptLearningConfig;

/** Test-only: a few trainable virtual-token embeddings (prompt tuning reduced to its core). */
public final class VirtualTokensConfig extends PromptLearningConfig {
    public VirtualTokensConfig(int numVirtualTokens) {
        super(PeftType.PROMPT_TUNING);
        this.numVirtualTokens = numVirtualTokens;
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
        return c;
    }

    @Override
    protected Map<String, Object> methodFields() {
        return promptLearningFields();
    }
}
