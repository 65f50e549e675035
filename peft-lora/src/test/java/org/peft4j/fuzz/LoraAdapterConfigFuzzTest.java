package org.peft4j.fuzz;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The adapter_config.json fuzz of peft-core's {@code ConfigFuzzTest} with LoRA registered, so mutated LoRA configs
 * reach {@code LoraConfig}'s field checks (in peft-core no tuner is registered and every mutation stops at "no tuner
 * handles peft_type"). Declared: {@link org.peft4j.FileAccessException} and {@link org.peft4j.ConfigException}. Long run: {@code mvn -o
 * -pl peft-core,peft-lora -am test -Dtest=LoraAdapterConfigFuzzTest -Dpeft4j.fuzzTries=100000
 * -Dsurefire.failIfNoSpecifiedTests=false}.
 */
class LoraAdapterConfigFuzzTest {
    @Test
    void mutatedLoraConfigsRaiseOnlyDeclaredExceptions(@TempDir Path work) throws IOException {
        FuzzHarness.checkAdapterConfigs("LoraAdapterConfigFuzzTest", "adapter-config", work);
    }
}
