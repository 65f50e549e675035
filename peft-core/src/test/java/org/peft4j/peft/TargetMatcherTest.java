package org.peft4j.peft;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.peft.config.PeftType;
import org.peft4j.peft.tuners.TargetMatcher.Result;
import org.peft4j.peft.tuners.TargetMatcher;
import org.peft4j.peft.tuners.TunerConfig;
import org.peft4j.testutil.Fixtures;

/** PEFT's check_target_module_exists rules (peft.md section 2), one by one. */
class TargetMatcherTest {
    static final class Cfg extends TunerConfig {
        Cfg(Object targets) {
            super(PeftType.LORA);
            setTargetModules(targets);
        }

        Cfg exclude(Object e) {
            excludeModules = e instanceof List ? new java.util.LinkedHashSet<>((List<?>) e) : e;
            return this;
        }

        Cfg layers(List<Integer> l, List<String> pattern) {
            layersToTransform = l;
            layersPattern = pattern;
            return this;
        }

        @Override
        public PeftConfig copy() {
            return this;
        }

        @Override
        protected Map<String, Object> methodFields() {
            return new LinkedHashMap<>();
        }
    }

    static final String Q0 = "model.layers.0.self_attn.q_proj";
    static final String Q1 = "model.layers.1.self_attn.q_proj";

    @Test
    void aStringIsAFullMatchRegex() {
        Cfg c = new Cfg(".*\\.layers\\.0\\..*q_proj");
        assertThat(TargetMatcher.check(c, Q0)).isEqualTo(Result.MATCHED);
        assertThat(TargetMatcher.check(c, Q1)).isEqualTo(Result.NOT_MATCHED);
        assertThat(TargetMatcher.check(new Cfg("q_proj"), Q0)).isEqualTo(Result.NOT_MATCHED);
    }

    @Test
    void aListMatchesExactNamesAndDottedSuffixes() {
        Cfg c = new Cfg(List.of("q_proj", "self_attn.v_proj"));
        assertThat(TargetMatcher.check(c, Q0)).isEqualTo(Result.MATCHED);
        assertThat(TargetMatcher.check(c, "model.layers.0.self_attn.v_proj")).isEqualTo(Result.MATCHED);
        assertThat(TargetMatcher.check(c, "model.layers.0.self_attn.xq_proj")).isEqualTo(Result.NOT_MATCHED);
        assertThat(TargetMatcher.check(new Cfg(List.of(Q0)), Q0)).isEqualTo(Result.MATCHED);
    }

    @Test
    void layersToTransformUsesTheFirstNumberedSegmentOrThePattern() {
        Cfg c = new Cfg(List.of("q_proj")).layers(List.of(1), null);
        assertThat(TargetMatcher.check(c, Q0)).isEqualTo(Result.NOT_MATCHED);
        assertThat(TargetMatcher.check(c, Q1)).isEqualTo(Result.MATCHED);
        // an exact name skips the layer filter, as in PEFT
        assertThat(TargetMatcher.check(new Cfg(List.of(Q0)).layers(List.of(1), null), Q0))
                .isEqualTo(Result.MATCHED);
        // the first numbered segment: an expert index later in the name is not taken
        Cfg moe = new Cfg(List.of("w1")).layers(List.of(0), null);
        assertThat(TargetMatcher.check(moe, "model.layers.0.experts.3.w1")).isEqualTo(Result.MATCHED);
        Cfg pat = new Cfg(List.of("w1")).layers(List.of(3), List.of("experts"));
        assertThat(TargetMatcher.check(pat, "model.layers.0.experts.3.w1")).isEqualTo(Result.MATCHED);
        assertThat(TargetMatcher.check(pat, "model.layers.3.experts.0.w1")).isEqualTo(Result.NOT_MATCHED);
    }

    @Test
    void exclusionsComeFirst() {
        Cfg c = new Cfg(List.of("q_proj")).exclude(List.of("layers.0.self_attn.q_proj"));
        assertThat(TargetMatcher.check(c, Q0)).isEqualTo(Result.EXCLUDED);
        assertThat(TargetMatcher.check(c, Q1)).isEqualTo(Result.MATCHED);
        Cfg r = new Cfg(List.of("q_proj")).exclude(".*layers\\.1\\..*");
        assertThat(TargetMatcher.check(r, Q1)).isEqualTo(Result.EXCLUDED);
    }

    @Test
    void modulesToSaveAndTheirChildrenAreNeverTargeted() {
        Cfg c = new Cfg(List.of("q_proj", "lm_head"));
        c.setModulesToSave(List.of("self_attn"));
        assertThat(TargetMatcher.check(c, Q0)).isEqualTo(Result.EXCLUDED);
        assertThat(TargetMatcher.check(c, "lm_head")).isEqualTo(Result.MATCHED);
    }

    @Test
    void patternKeysMatchDottedSuffixesFirstWins() {
        Map<String, Integer> p = new LinkedHashMap<>();
        p.put("q_proj", 4);
        p.put("layers.1.self_attn.q_proj", 2);
        assertThat(TargetMatcher.patternKey(p, Q1)).isEqualTo("q_proj");
        Map<String, Integer> p2 = new LinkedHashMap<>();
        p2.put("layers.1.self_attn.q_proj", 2);
        p2.put("q_proj", 4);
        assertThat(TargetMatcher.patternKey(p2, Q1)).isEqualTo("layers.1.self_attn.q_proj");
        assertThat(TargetMatcher.patternKey(p2, "model.layers.0.self_attn.xq_proj")).isNull();
    }

    @Test
    void layersPatternMayStartTheName() {
        Cfg c = new Cfg(List.of("q_proj")).layers(List.of(1), List.of("model.layers"));
        assertThat(TargetMatcher.check(c, Q1)).isEqualTo(Result.MATCHED);
        assertThat(TargetMatcher.check(c, Q0)).isEqualTo(Result.NOT_MATCHED);
        Cfg gpt2 = new Cfg(List.of("c_attn")).layers(List.of(3), List.of("transformer.h"));
        assertThat(TargetMatcher.check(gpt2, "transformer.h.3.attn.c_attn")).isEqualTo(Result.MATCHED);
        // the pattern must start the name or follow a dot
        Cfg partial = new Cfg(List.of("q_proj")).layers(List.of(1), List.of("odel.layers"));
        assertThat(TargetMatcher.check(partial, Q1)).isEqualTo(Result.NOT_MATCHED);
    }

    /** Every row of interop/fixtures/peft-rules/target_module_exists.json (PEFT's check_target_module_exists). */
    @Test
    void decisionsEqualPeftsCheckTargetModuleExists() throws Exception {
        JsonObject table = Fixtures.json(Fixtures.root().resolve("peft-rules").resolve("target_module_exists.json"));
        int rows = 0;
        int matched = 0;
        for (JsonElement e : table.getAsJsonArray("rows")) {
            JsonObject r = e.getAsJsonObject();
            List<String> targets = strings(r.get("target_modules"));
            List<Integer> layers = null;
            JsonElement l = r.get("layers_to_transform");
            if (l.isJsonArray()) {
                layers = new ArrayList<>();
                for (JsonElement x : l.getAsJsonArray()) {
                    layers.add(x.getAsInt());
                }
            } else if (!l.isJsonNull()) {
                layers = List.of(l.getAsInt());
            }
            Cfg c = new Cfg(targets).layers(layers, strings(r.get("layers_pattern")));
            String key = r.get("key").getAsString();
            boolean want = r.get("matched").getAsBoolean();
            assertThat(TargetMatcher.check(c, key) == Result.MATCHED).as(r.toString()).isEqualTo(want);
            rows++;
            matched += want ? 1 : 0;
        }
        assertThat(rows).isGreaterThan(300);
        assertThat(matched).isBetween(50, rows - 100);
    }

    private static List<String> strings(JsonElement e) {
        if (e == null || e.isJsonNull()) {
            return null;
        }
        List<String> out = new ArrayList<>();
        if (e.isJsonArray()) {
            for (JsonElement x : e.getAsJsonArray()) {
                out.add(x.getAsString());
            }
        } else {
            out.add(e.getAsString());
        }
        return out;
    }
}
