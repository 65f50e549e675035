package org.peft4j.fuzz;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The adapter_config.json fuzz of peft-core's {@code ConfigFuzzTest} with the prompt-learning tuners registered, so
 * mutated prefix-tuning, prompt-tuning (TEXT init with {@code tokenizer_kwargs}) and P-tuning (LSTM) configs reach
 * their field checks (corpus: interop/fixtures/fuzz/prompt-config). Declared: {@link org.peft4j.FileAccessException} and
 * {@link org.peft4j.ConfigException}. Long run: {@code mvn -o -pl peft-core,peft-lora,peft-prefix -am test
 * -Dtest=PromptConfigFuzzTest -Dpeft4j.fuzzTries=50000 -Dsurefire.failIfNoSpecifiedTests=false}.
 */
class PromptConfigFuzzTest {
    @Test
    void mutatedPromptLearningConfigsRaiseOnlyDeclaredExceptions(@TempDir Path work) throws IOException {
        FuzzHarness.checkAdapterConfigs("PromptConfigFuzzTest", "prompt-config", work);
    }
}
