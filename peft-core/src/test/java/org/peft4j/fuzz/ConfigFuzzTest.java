package org.peft4j.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.PeftConfigs;
import org.peft4j.testutil.Fixtures;

/**
 * Fuzzes config loading with mutations of {@code interop/fixtures/fuzz/config-json/} (transformers config.json,
 * through {@code ModelConfig.load} and {@code AutoModelForCausalLM.fromConfig}, which declare {@link IOException} and
 * {@link IllegalArgumentException}) and {@code interop/fixtures/fuzz/adapter-config/} (adapter_config.json through
 * {@link PeftConfigs#fromPretrained}: {@link org.peft4j.FileAccessException} and {@link org.peft4j.ConfigException}). Long run: {@code mvn -o -pl peft-core
 * test -Dtest=ConfigFuzzTest -Dpeft4j.fuzzTries=100000 -Dsurefire.failIfNoSpecifiedTests=false}.
 */
class ConfigFuzzTest {
    @Test
    void mutatedModelConfigsRaiseOnlyDeclaredExceptions(@TempDir Path work) throws IOException {
        FuzzHarness.Result res = FuzzHarness.run(Fixtures.root().resolve("fuzz").resolve("config-json"), work,
                "config.json", List.of(org.peft4j.FileAccessException.class, org.peft4j.ConfigException.class,
                        IllegalArgumentException.class),
                f -> AutoModelForCausalLM.fromConfig(ModelConfig.load(f)));
        report("config.json", res);
    }

    @Test
    void mutatedAdapterConfigsRaiseOnlyDeclaredExceptions(@TempDir Path work) throws IOException {
        FuzzHarness.Result res = FuzzHarness.run(Fixtures.root().resolve("fuzz").resolve("adapter-config"), work,
                "adapter_config.json", List.of(org.peft4j.FileAccessException.class, org.peft4j.ConfigException.class), PeftConfigs::fromPretrained);
        report("adapter_config.json", res);
    }

    private static void report(String what, FuzzHarness.Result res) {
        System.out.println("ConfigFuzzTest(" + what + "): " + res.tried() + " tried, " + res.accepted()
                + " accepted, " + res.refused() + " refused, " + res.failures().size() + " undeclared");
        assertThat(res.failures()).isEmpty();
        assertThat(res.refused()).isGreaterThan(res.tried() / 10);
    }
}
