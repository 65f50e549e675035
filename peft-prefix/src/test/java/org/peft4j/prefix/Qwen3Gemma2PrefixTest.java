package org.peft4j.prefix;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.graph.Parameter;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.config.TaskType;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * Prefix tuning on Qwen3 (head_dim 16 != hidden / heads) and Gemma 2 (PEFT's gemma2 branch of {@code get_prompt}:
 * a DynamicCache built from the config, sliding-window layers of window 4 under 3 virtual + 7 real tokens) against
 * PEFT 0.21.2 (interop/make_family_fixtures_qwen3_gemma2.py, {@code interop/fixtures/families/prefix/<model>}):
 * config filling, PEFT-saved adapters' logits, a trainable adapter's logits, loss and gradients, greedy generation
 * with the cache.
 */
class Qwen3Gemma2PrefixTest {
    static Path dir(String c) {
        return Fixtures.root().resolve("families").resolve("prefix").resolve(c);
    }

    static JsonObject info(String c) throws Exception {
        return Fixtures.json(dir(c).resolve("case.json"));
    }

    static PeftModel fresh(String c) throws Exception {
        PeftModel pm = Peft.getPeftModel(AutoModelForCausalLM.fromPretrained(Fixtures.model(c)),
                new PrefixTuningConfig(3).taskType(TaskType.CAUSAL_LM));
        try (SafeTensors ref = SafeTensors.open(dir(c).resolve("expected.safetensors"))) {
            for (JsonElement n : info(c).getAsJsonArray("trainable_names")) {
                Parameter p = pm.namedParameters().get(n.getAsString());
                assertThat(p).as(n.getAsString()).isNotNull();
                p.setData(ref.get("param." + n.getAsString()).copy());
            }
        }
        return pm;
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen3", "gemma2"})
    void configIsFilledAsPeftFillsIt(String c) throws Exception {
        PeftModel pm = fresh(c);
        JsonObject peft = Fixtures.json(dir(c).resolve("adapter").resolve("adapter_config.json"));
        JsonObject mine = JsonParser.parseString(pm.activePeftConfig().toJson()).getAsJsonObject();
        for (String k : List.of("num_virtual_tokens", "token_dim", "num_transformer_submodules",
                "num_attention_heads", "num_layers")) {
            assertThat(mine.get(k)).as(k).isEqualTo(peft.get(k));
        }
        assertThat(pm.getNbTrainableParameters()).containsExactly(info(c).get("trainable").getAsLong(),
                info(c).get("all").getAsLong());
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen3", "gemma2"})
    void peftSavedAdapterGivesPeftsLogits(String c) throws Exception {
        PeftModel pm = PeftModel.fromPretrained(AutoModelForCausalLM.fromPretrained(Fixtures.model(c)),
                dir(c).resolve("adapter"));
        try (SafeTensors ref = SafeTensors.open(dir(c).resolve("expected.safetensors"))) {
            float[] got = pm.logits(ref.get("input_ids"), ref.get("attention_mask")).toFloatArray();
            assertThat(Fixtures.maxAbsDiff(got, ref.get("loaded_logits").toFloatArray())).isLessThan(1e-4);
            assertThat(Fixtures.maxAbsDiff(got, ref.get("base_logits").toFloatArray())).as("the prefix matters")
                    .isGreaterThan(1e-2);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen3", "gemma2"})
    void trainableAdapterGivesPeftsLogitsLossAndGradients(String c) throws Exception {
        PeftModel pm = fresh(c);
        try (SafeTensors ref = SafeTensors.open(dir(c).resolve("expected.safetensors"))) {
            Tensor ids = ref.get("input_ids");
            Tensor mask = ref.get("attention_mask");
            assertThat(Fixtures.maxAbsDiff(pm.logits(ids, mask).toFloatArray(), ref.get("logits").toFloatArray()))
                    .isLessThan(1e-4);
            PrefixCases.Grads gr = PrefixCases.gradients(pm, ids, mask, ref.get("labels"));
            double loss = ref.get("loss").getFloat(0);
            assertThat(gr.loss).isCloseTo(loss, within(1e-4 * Math.abs(loss)));
            assertThat(gr.gradients).hasSize(info(c).getAsJsonArray("trainable_names").size());
            for (Map.Entry<String, float[]> e : gr.gradients.entrySet()) {
                assertThat(PrefixCases.relativeL2(e.getValue(), ref.get("grad." + e.getKey()).toFloatArray()))
                        .as(e.getKey()).isLessThan(1e-4);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen3", "gemma2"})
    void greedyGenerationWithTheCacheGivesPeftsTokens(String c) throws Exception {
        GenerationConfig greedy = GenerationConfig.builder().maxNewTokens(6).padTokenId(0L).build();
        try (SafeTensors ref = SafeTensors.open(dir(c).resolve("expected.safetensors"))) {
            PeftModel loaded = PeftModel.fromPretrained(AutoModelForCausalLM.fromPretrained(Fixtures.model(c)),
                    dir(c).resolve("adapter"));
            assertThat(loaded.generate(PrefixCases.rows(ref.get("gen_input_ids")),
                    PrefixCases.rows(ref.get("gen_attention_mask")), greedy))
                    .isDeepEqualTo(PrefixCases.rows(ref.get("generated")));
        }
    }
}
