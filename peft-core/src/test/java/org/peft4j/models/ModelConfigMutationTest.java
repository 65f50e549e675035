package org.peft4j.models;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.testutil.ConfigMutator.Mutation;
import org.peft4j.testutil.ConfigMutator;
import org.peft4j.testutil.Fixtures;

/**
 * Feeds mutated copies of the committed transformers config.json files to {@code ModelConfig.load} and
 * {@code AutoModelForCausalLM.fromConfig}: the only outcomes allowed are a model, an {@link IOException} from
 * {@code load} (unreadable or malformed JSON) or an {@link IllegalArgumentException} from {@code fromConfig}, and
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
        Path file = tmp.resolve("config.json");
        List<String> bad = new ArrayList<>();
        TreeMap<String, Integer> kinds = new TreeMap<>();
        int ok = 0;
        int declared = 0;
        for (int b = 0; b < bases.size(); b++) {
            String base = Files.readString(bases.get(b), StandardCharsets.UTF_8);
            for (Mutation m : ConfigMutator.mutations(base, SEED + b, PER_FILE)) {
                Files.writeString(file, m.text, StandardCharsets.UTF_8);
                String where = bases.get(b).getParent().getFileName() + ": " + m;
                try {
                    AutoModelForCausalLM.fromConfig(ModelConfig.load(file));
                    if (m.mustFail) {
                        bad.add(where + ": accepted");
                        kinds.merge("accepted", 1, Integer::sum);
                    } else {
                        ok++;
                    }
                } catch (IOException | IllegalArgumentException e) {
                    String msg = String.valueOf(e.getMessage());
                    if (!msg.contains(file.toString())) {
                        bad.add(where + ": message does not name the file: " + msg);
                        kinds.merge("no file in message", 1, Integer::sum);
                    } else if (m.field != null && !m.mustFail && !msg.contains(m.leaf())) {
                        bad.add(where + ": message does not name the field: " + msg);
                        kinds.merge("no field in message", 1, Integer::sum);
                    } else {
                        declared++;
                    }
                } catch (RuntimeException | StackOverflowError | OutOfMemoryError e) {
                    bad.add(where + ": undeclared " + e);
                    kinds.merge(e.getClass().getName(), 1, Integer::sum);
                }
            }
        }
        System.out.println("model config mutations: " + ok + " loaded, " + declared + " declared errors, "
                + bad.size() + " bad; undeclared kinds " + kinds);
        bad.stream().limit(40).forEach(System.out::println);
        assertThat(bad).isEmpty();
        assertThat(declared).isGreaterThan(100);
    }
}
