package org.peft4j.models;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.models.llama.LlamaConfig;
import org.peft4j.models.llama.LlamaForCausalLM;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * Sliding-window attention (Mistral {@code sliding_window}, Qwen2 {@code use_sliding_window} + {@code layer_types})
 * against transformers (interop/make_sliding_window_fixtures.py): logits over 11 tokens with windows 4 and 3, plain
 * and left-padded, and the per-layer attention types transformers derives from a config.
 */
class SlidingWindowParityTest {
    static final double TOL = ModelParityTest.TOL;

    static Path dir() {
        return Fixtures.root().resolve("sliding-window");
    }

    static Path model(String name) {
        return dir().resolve("models").resolve(name);
    }

    static Path reference(String name) {
        return dir().resolve("reference").resolve(name + ".safetensors");
    }

    @ParameterizedTest
    @ValueSource(strings = {"mistral-swa", "qwen2-swa"})
    void logitsMatchTransformers(String name) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(model(name));
        try (SafeTensors ref = SafeTensors.open(reference(name))) {
            Tensor logits = m.logits(ref.get("input_ids"), null);
            assertThat(logits.shape()).containsExactly(ref.get("logits").shape());
            assertThat(Fixtures.maxAbsDiff(logits.toFloatArray(), ref.get("logits").toFloatArray())).isLessThan(TOL);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"mistral-swa", "qwen2-swa"})
    void leftPaddedLogitsMatchOnTokens(String name) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(model(name));
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

    @Test
    void configsGiveTransformersLayerTypes() throws Exception {
        JsonObject table = Fixtures.json(dir().resolve("layer_types.json"));
        int rows = 0;
        for (JsonElement e : table.getAsJsonArray("rows")) {
            JsonObject r = e.getAsJsonObject();
            JsonObject json = r.getAsJsonObject("config").deepCopy();
            json.addProperty("model_type", r.get("model_type").getAsString());
            json.addProperty("vocab_size", 16);
            json.addProperty("hidden_size", 8);
            json.addProperty("intermediate_size", 16);
            json.addProperty("num_attention_heads", 2);
            LlamaConfig c = new LlamaConfig(new ModelConfig(json, "row " + rows));
            List<String> want = new ArrayList<>();
            r.getAsJsonArray("layer_types").forEach(x -> want.add(x.getAsString()));
            assertThat(c.layerTypes()).as(r.toString()).isEqualTo(want);
            JsonElement w = r.get("sliding_window");
            assertThat(c.slidingWindow()).as(r.toString()).isEqualTo(w.isJsonNull() ? null : w.getAsLong());
            rows++;
        }
        assertThat(rows).isGreaterThanOrEqualTo(10);
    }

    @Test
    void theSavedConfigsKeepTheirLayerTypes() throws Exception {
        LlamaForCausalLM q = (LlamaForCausalLM) AutoModelForCausalLM.fromConfig(ModelConfig.load(
                model("qwen2-swa").resolve("config.json")));
        assertThat(q.llamaConfig().layerTypes()).containsExactly("full_attention", "sliding_attention",
                "sliding_attention");
        assertThat(q.llamaConfig().slidingWindow()).isEqualTo(3L);
    }

    @Test
    void aSlidingLayerWithoutAWindowFailsAsTransformers() throws Exception {
        java.util.Map<String, Object> json = ModelConfig.load(model("qwen2-swa").resolve("config.json")).toDict();
        json.put("use_sliding_window", false);
        PreTrainedModel m = AutoModelForCausalLM.fromConfig(ModelConfig.fromDict(json, "cfg"));
        org.peft4j.graph.Graph g = new org.peft4j.graph.Graph();
        org.peft4j.graph.Value ids = g.input("input_ids", org.peft4j.tensor.DType.I64, org.peft4j.graph.Dim.of(1),
                org.peft4j.graph.Dim.of(3));
        assertThatThrownBy(() -> m.forward(g, CausalLMInput.of(ids)))
                .hasMessageContaining("Could not find a `sliding_window` argument in the config");
    }
}
