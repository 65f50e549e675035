package org.peft4j.models;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.testutil.ConfigMutator;
import org.peft4j.testutil.Fixtures;

/**
 * Feeds mutated copies of the committed transformers config.json files to {@code ModelConfig.load} and
 * {@code AutoModelForCausalLM.fromConfig}: the only outcomes allowed are a model, a {@link org.peft4j.ConfigException}
 * from {@code load} (malformed JSON; {@link org.peft4j.FileAccessException} for an unreadable file) or an {@link IllegalArgumentException} from {@code fromConfig}, and
 * every exception names the file (and, for a field mutation, the field).
 */
class ModelConfigMutationTest {
    static final long SEED = 20240516L;
    static final int PER_FILE = 70;

    @Test
    void everyBadConfigGivesTheDeclaredException(@TempDir Path tmp) throws Exception {
        List<Path> bases = new ArrayList<>();
        try (Stream<Path> s = Files.list(Fixtures.root().resolve("models"))) {
            s.map(p -> p.resolve("config.json")).filter(Files::isRegularFile).sorted().forEach(bases::add);
        }
        assertThat(bases).hasSizeGreaterThanOrEqualTo(5);
        ConfigMutator.Tally t = ConfigMutator.run(bases, tmp.resolve("config.json"), SEED, PER_FILE,
                f -> AutoModelForCausalLM.fromConfig(ModelConfig.load(f)),
                e -> e instanceof org.peft4j.FileAccessException || e instanceof org.peft4j.ConfigException
                        || e instanceof IllegalArgumentException,
                p -> p.getParent().getFileName().toString());
        t.print("model config", 40);
        assertThat(t.bad).isEmpty();
        assertThat(t.declared).isGreaterThan(100);
    }
}
