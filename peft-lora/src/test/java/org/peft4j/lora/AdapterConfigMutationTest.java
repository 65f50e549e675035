package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.peft.PeftConfigs;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.peft.tuners.TargetMatcher;
import org.peft4j.testutil.ConfigMutator;
import org.peft4j.testutil.Fixtures;

/**
 * Feeds mutated copies of the adapter_config.json files PEFT wrote (interop/fixtures/lora) to
 * {@code PeftConfigs.fromPretrained}: the only outcomes allowed are a config, an {@link IOException} (unreadable or
 * malformed JSON) or an {@link org.peft4j.ConfigException} (a bad value) whose message names the file (and, for a field mutation, the field). Truncated files, duplicate keys and lenient-only JSON must be
 * refused.
 */
class AdapterConfigMutationTest {
    static final long SEED = 20240517L;
    static final int PER_FILE = 25;

    @Test
    void everyBadConfigGivesTheDeclaredException(@TempDir Path tmp) throws Exception {
        List<Path> bases = new ArrayList<>();
        try (Stream<Path> s = Files.list(Fixtures.root().resolve("lora"))) {
            s.map(p -> p.resolve("adapter").resolve("adapter_config.json")).filter(Files::isRegularFile).sorted()
                    .forEach(bases::add);
        }
        assertThat(bases).hasSizeGreaterThanOrEqualTo(15);
        for (Path base : bases) {
            PeftConfigs.fromPretrained(base); // the unmutated files load
        }
        ConfigMutator.Tally t = ConfigMutator.run(bases, tmp.resolve("adapter_config.json"), SEED, PER_FILE,
                f -> use(PeftConfigs.fromPretrained(f.getParent())), e -> e instanceof IOException || e instanceof org.peft4j.ConfigException,
                p -> p.getParent().getParent().getFileName().toString());
        t.print("adapter config", 60);
        assertThat(t.bad).isEmpty();
        assertThat(t.declared).isGreaterThan(100);
    }

    /** What injection does with a loaded config's names and patterns: none of it may throw. */
    static void use(PeftConfig c) {
        LoraConfig l = (LoraConfig) c;
        for (String key : List.of("model.layers.0.self_attn.q_proj", "model.layers.1.mlp.down_proj", "lm_head",
                "transformer.h.0.attn.c_attn")) {
            TargetMatcher.check(l, key);
            TargetMatcher.patternKey(l.rankPattern(), key);
            TargetMatcher.patternKey(l.alphaPattern(), key);
        }
    }
}
