package org.peft4j.models;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.graph.Parameter;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * Phi-3 and OPT against transformers 5.23 (interop/make_family_fixtures_phi3_opt.py): logits of tiny random models
 * (OPT pre-norm and tied; OPT with project_in/project_out and post-norm like opt-350m; Phi-3 with longrope, partial
 * rotary, GQA and a sliding window), over 11 tokens (Phi-3: beyond original_max_position_embeddings 8, the long
 * factors) and 6 tokens (the short factors), left-padded; module names; and the parameter counts of the real
 * Phi-3-mini-4k/128k-instruct and OPT-350m configurations against torch's meta-device counts.
 */
class Phi3OptParityTest {
    static final double TOL = ModelParityTest.TOL;

    static Path reference(String name) {
        return Fixtures.root().resolve("phi3-opt").resolve("reference").resolve(name + ".safetensors");
    }

    static PreTrainedModel load(String name) throws Exception {
        return AutoModelForCausalLM.fromPretrained(Fixtures.root().resolve("models").resolve(name));
    }

    @ParameterizedTest
    @ValueSource(strings = {"opt", "opt-proj", "phi3"})
    void logitsMatchTransformers(String name) throws Exception {
        PreTrainedModel m = load(name);
        try (SafeTensors ref = SafeTensors.open(reference(name))) {
            for (String k : List.of("", "short_")) {
                Tensor logits = m.logits(ref.get(k + "input_ids"), null);
                assertThat(logits.shape()).containsExactly(ref.get(k + "logits").shape());
                assertThat(Fixtures.maxAbsDiff(logits.toFloatArray(), ref.get(k + "logits").toFloatArray()))
                        .as(k + "logits").isLessThan(TOL);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"opt", "opt-proj", "phi3"})
    void leftPaddedLogitsMatchOnTokens(String name) throws Exception {
        PreTrainedModel m = load(name);
        try (SafeTensors ref = SafeTensors.open(reference(name))) {
            Tensor mask = ref.get("padded_attention_mask");
            float[] got = m.logits(ref.get("padded_input_ids"), mask).toFloatArray();
            float[] want = ref.get("padded_logits").toFloatArray();
            long[] valid = mask.toLongArray();
            int vocab = want.length / valid.length;
            double max = 0;
            for (int pos = 0; pos < valid.length; pos++) {
                for (int v = 0; valid[pos] == 1 && v < vocab; v++) {
                    max = Math.max(max, Math.abs(got[pos * vocab + v] - want[pos * vocab + v]));
                }
            }
            assertThat(max).isLessThan(TOL);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"opt", "opt-proj", "phi3"})
    void float16LogitsMatchTransformers(String name) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.root().resolve("models").resolve(name),
                org.peft4j.tensor.DType.F16);
        Path half = Fixtures.root().resolve("phi3-opt").resolve("half").resolve(name + ".safetensors");
        try (SafeTensors ref = SafeTensors.open(half)) {
            Tensor mask = ref.get("attention_mask");
            Tensor logits = m.logits(ref.get("input_ids"), mask);
            assertThat(logits.dtype()).isEqualTo(org.peft4j.tensor.DType.F16);
            float[] got = logits.toFloatArray();
            float[] want = ref.get("logits_f16").toFloatArray();
            long[] valid = mask.toLongArray();
            int vocab = want.length / valid.length;
            double max = 0;
            for (int pos = 0; pos < valid.length; pos++) {
                for (int v = 0; valid[pos] == 1 && v < vocab; v++) {
                    max = Math.max(max, Math.abs(got[pos * vocab + v] - want[pos * vocab + v]));
                }
            }
            assertThat(max).as("%s float16 logits vs transformers", name).isLessThan(HalfPrecisionParityTest.TOL);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"phi-3-mini-4k-instruct", "phi-3-mini-128k-instruct", "opt-350m"})
    void realConfigurationCountsMatchTorch(String name) throws Exception {
        Path configs = Fixtures.root().resolve("phi3-opt").resolve("configs");
        JsonObject want = Fixtures.json(configs.resolve("counts.json")).getAsJsonObject(name);
        PreTrainedModel m = AutoModelForCausalLM.fromConfig(ModelConfig.load(configs.resolve(name + ".json")));
        assertThat(m.numParameters()).isEqualTo(want.get("num_parameters").getAsLong());
        assertThat(m.namedParameters(false)).hasSize(want.get("state_dict_num_keys").getAsInt());
        List<JsonElement> named = new ArrayList<>();
        want.getAsJsonArray("layer0_parameters").forEach(named::add);
        want.getAsJsonArray("non_layer_parameters").forEach(named::add);
        for (JsonElement e : named) {
            JsonArray pair = e.getAsJsonArray();
            Parameter p = m.getParameter(pair.get(0).getAsString());
            assertThat(p).as(pair.get(0).getAsString()).isNotNull();
            long[] shape = new long[pair.get(1).getAsJsonArray().size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = pair.get(1).getAsJsonArray().get(i).getAsLong();
            }
            assertThat(p.shape()).as(pair.get(0).getAsString()).containsExactly(shape);
        }
        assertThat(m.parameters()).noneMatch(Parameter::hasData);
    }

    @ParameterizedTest
    @ValueSource(strings = {"opt", "opt-proj", "phi3"})
    void parameterNamesAreTheCheckpointsKeys(String name) throws Exception {
        PreTrainedModel m = load(name);
        Path file = Fixtures.root().resolve("models").resolve(name).resolve("model.safetensors");
        try (SafeTensors st = SafeTensors.open(file)) {
            List<String> mine = new ArrayList<>(m.namedParameters().keySet());
            mine.removeAll(m.tiedWeightKeys());
            assertThat(mine).containsExactlyInAnyOrderElementsOf(st.keys());
        }
        Map<String, org.peft4j.nn.Module> modules = m.namedModules();
        if (name.startsWith("opt")) {
            assertThat(modules).containsKeys("model.decoder.embed_tokens", "model.decoder.embed_positions",
                    "model.decoder.layers.1.self_attn.out_proj", "model.decoder.layers.0.self_attn_layer_norm",
                    "model.decoder.layers.0.fc1", "model.decoder.layers.0.fc2", "model.decoder.layers.0.final_layer_norm",
                    "lm_head");
            assertThat(modules.containsKey("model.decoder.project_in")).isEqualTo(name.equals("opt-proj"));
            assertThat(modules.containsKey("model.decoder.final_layer_norm")).isEqualTo(name.equals("opt"));
        } else {
            assertThat(modules).containsKeys("model.layers.1.self_attn.qkv_proj", "model.layers.0.self_attn.o_proj",
                    "model.layers.0.mlp.gate_up_proj", "model.layers.0.mlp.down_proj", "model.norm", "lm_head");
        }
    }
}
