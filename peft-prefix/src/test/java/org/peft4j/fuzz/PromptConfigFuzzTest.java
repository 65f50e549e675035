package org.peft4j.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.peft.PeftConfigs;
import org.peft4j.testutil.Fixtures;

/**
 * The adapter_config.json fuzz of peft-core's {@code ConfigFuzzTest} with the prompt-learning tuners registered, so
 * mutated prefix-tuning, prompt-tuning (TEXT init with {@code tokenizer_kwargs}) and P-tuning (LSTM) configs reach
 * their field checks (corpus: interop/fixtures/fuzz/prompt-config). Declared: {@link IOException} and
 * {@link org.peft4j.ConfigException}. Long run: {@code mvn -o -pl peft-core,peft-lora,peft-prefix -am test
 * -Dtest=PromptConfigFuzzTest -Dpeft4j.fuzzTries=50000 -Dsurefire.failIfNoSpecifiedTests=false}.
 */
class PromptConfigFuzzTest {
    @Test
    void mutatedPromptLearningConfigsRaiseOnlyDeclaredExceptions(@TempDir Path work) throws IOException {
        FuzzHarness.Result res = FuzzHarness.run(Fixtures.root().resolve("fuzz").resolve("prompt-config"), work,
                "adapter_config.json", List.of(org.peft4j.FileAccessException.class, org.peft4j.ConfigException.class),
                PeftConfigs::fromPretrained);
        System.out.println("PromptConfigFuzzTest: " + res.tried() + " tried, " + res.accepted() + " accepted, "
                + res.refused() + " refused, " + res.failures().size() + " undeclared");
        assertThat(res.failures()).isEmpty();
        assertThat(res.accepted()).as("mutations that still load (so field checks are reached)").isPositive();
        assertThat(res.refused()).isGreaterThan(res.tried() / 10);
    }
}
