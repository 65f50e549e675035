package org.peft4j.models;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.graph.Parameter;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/** Logits, module names and parameter shapes against transformers (fixtures from interop/make_fixtures.py). */
class ModelParityTest {
    static final double TOL = 1e-4;

    @ParameterizedTest
    @ValueSource(strings = {"llama-mha", "llama-gqa", "mistral", "qwen2", "gpt2", "llama-mha-sharded"})
    void logitsMatchTransformers(String name) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model(name));
        try (SafeTensors ref = SafeTensors.open(Fixtures.reference(name))) {
            Tensor logits = m.logits(ref.get("input_ids"), null);
            assertThat(logits.shape()).containsExactly(ref.get("logits").shape());
            assertThat(Fixtures.maxAbsDiff(logits.toFloatArray(), ref.get("logits").toFloatArray())).isLessThan(TOL);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-mha", "llama-gqa", "mistral", "qwen2", "gpt2"})
    void paddedBatchMatchesOnValidPositions(String name) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model(name));
        try (SafeTensors ref = SafeTensors.open(Fixtures.reference(name))) {
            Tensor logits = m.logits(ref.get("padded_input_ids"), ref.get("padded_attention_mask"));
            float[] got = logits.toFloatArray();
            float[] want = ref.get("padded_logits").toFloatArray();
            long[] valid = ref.get("padded_valid").toLongArray();
            int vocab = (int) logits.dim(-1);
            int checked = 0;
            double maxDiff = 0;
            for (int pos = 0; pos < valid.length; pos++) {
                if (valid[pos] == 0) {
                    continue;
                }
                checked++;
                for (int v = 0; v < vocab; v++) {
                    maxDiff = Math.max(maxDiff, Math.abs(got[pos * vocab + v] - want[pos * vocab + v]));
                }
            }
            assertThat(checked).isGreaterThan(valid.length / 2);
            assertThat(maxDiff).isLessThan(TOL);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-mha", "llama-gqa", "mistral", "qwen2", "gpt2"})
    void moduleAndParameterNamesMatchTransformers(String name) throws Exception {
        JsonObject ref = Fixtures.referenceJson(name);
        PreTrainedModel m = AutoModelForCausalLM.fromConfig(ModelConfig.load(Fixtures.model(name).resolve(
                "config.json")));
        List<String> modules = new ArrayList<>();
        for (JsonElement e : ref.getAsJsonArray("named_modules")) {
            modules.add(e.getAsString());
        }
        assertThat(new ArrayList<>(m.namedModules().keySet())).isEqualTo(modules);
        Map<String, List<Long>> want = new LinkedHashMap<>();
        for (JsonElement e : ref.getAsJsonArray("named_parameters")) {
            JsonArray pair = e.getAsJsonArray();
            List<Long> shape = new ArrayList<>();
            for (JsonElement d : pair.get(1).getAsJsonArray()) {
                shape.add(d.getAsLong());
            }
            want.put(pair.get(0).getAsString(), shape);
        }
        Map<String, List<Long>> got = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
            List<Long> shape = new ArrayList<>();
            for (long d : e.getValue().shape()) {
                shape.add(d);
            }
            got.put(e.getKey(), shape);
        }
        assertThat(got).containsExactlyEntriesOf(want);
        assertThat(m.numParameters()).isEqualTo(ref.get("num_parameters").getAsLong());
        assertThat(m.parameters()).noneMatch(Parameter::hasData);
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa", "gpt2"})
    void stateDictRoundTripIsLossless(String name, @TempDir Path tmp) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model(name));
        m.savePretrained(tmp);
        PreTrainedModel again = AutoModelForCausalLM.fromPretrained(tmp);
        Map<String, Tensor> a = m.stateDict();
        Map<String, Tensor> b = again.stateDict();
        assertThat(b.keySet()).isEqualTo(a.keySet());
        for (String k : a.keySet()) {
            assertThat(b.get(k).contentEquals(a.get(k))).as(k).isTrue();
        }
        // the saved file holds exactly the keys transformers writes (tied aliases left out)
        try (SafeTensors saved = SafeTensors.open(tmp.resolve("model.safetensors"));
                SafeTensors orig = SafeTensors.open(Fixtures.model(name).resolve("model.safetensors"))) {
            assertThat(saved.keys()).containsExactlyInAnyOrderElementsOf(orig.keys());
            assertThat(saved.metadata()).containsEntry("format", "pt");
        }
    }
}
