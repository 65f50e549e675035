package org.peft4j.lora;

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
import org.peft4j.peft.PeftConfigs;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.peft.tuners.TargetMatcher;
import org.peft4j.testutil.ConfigMutator.Mutation;
import org.peft4j.testutil.ConfigMutator;
import org.peft4j.testutil.Fixtures;

/**
 * Feeds mutated copies of the adapter_config.json files PEFT wrote (interop/fixtures/lora) to
 * {@code PeftConfigs.fromPretrained}: the only outcomes allowed are a config or an {@link IOException} whose message
 * names the file (and, for a field mutation, the field). Truncated files, duplicate keys and lenient-only JSON must be
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
        Path file = tmp.resolve("adapter_config.json");
        List<String> bad = new ArrayList<>();
        TreeMap<String, Integer> kinds = new TreeMap<>();
        int ok = 0;
        int declared = 0;
        for (int b = 0; b < bases.size(); b++) {
            String base = Files.readString(bases.get(b), StandardCharsets.UTF_8);
            PeftConfigs.fromPretrained(bases.get(b)); // the unmutated file loads
            for (Mutation m : ConfigMutator.mutations(base, SEED + b, PER_FILE)) {
                Files.writeString(file, m.text, StandardCharsets.UTF_8);
                String where = bases.get(b).getParent().getParent().getFileName() + ": " + m;
                try {
                    PeftConfig c = PeftConfigs.fromPretrained(tmp);
                    use(c);
                    if (m.mustFail) {
                        bad.add(where + ": accepted");
                        kinds.merge("accepted", 1, Integer::sum);
                    } else {
                        ok++;
                    }
                } catch (IOException e) {
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
        System.out.println("adapter config mutations: " + ok + " loaded, " + declared + " declared errors, "
                + bad.size() + " bad " + kinds);
        bad.stream().limit(60).forEach(System.out::println);
        assertThat(bad).isEmpty();
        assertThat(declared).isGreaterThan(100);
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
