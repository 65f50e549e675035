package org.peft4j.peft;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.peft.config.PeftType;
import org.peft4j.peft.tuners.TargetMatcher.Result;
import org.peft4j.peft.tuners.TargetMatcher;
import org.peft4j.peft.tuners.TunerConfig;

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
}
