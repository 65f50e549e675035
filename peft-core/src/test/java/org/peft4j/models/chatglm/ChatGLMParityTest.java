package org.peft4j.models.chatglm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.generation.Generator;
import org.peft4j.graph.Parameter;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;
import org.peft4j.testutil.FullGradients;

/**
 * ChatGLM2/3 ({@code chatglm}) against THUDM's modeling_chatglm.py under transformers 4.40.2 / torch
 * (interop/make_chatglm_fixtures.py): logits, a left-padded batch, greedy generation with the cache, every
 * parameter's gradient, module and parameter names, the checkpoint's keys, and the real 6B configurations' counts.
 */
class ChatGLMParityTest {
    static final double TOL = 1e-4;
    static final long NEVER_EOS = 612;

    static Path dir() {
        return Fixtures.root().resolve("chatglm");
    }

    static PreTrainedModel model() throws Exception {
        return AutoModelForCausalLM.fromPretrained(dir().resolve("model"));
    }

    static long[][] rows(Tensor t) {
        long[] flat = t.toLongArray();
        int n = (int) t.dim(0);
        int m = (int) t.dim(1);
        long[][] out = new long[n][m];
        for (int i = 0; i < n; i++) {
            System.arraycopy(flat, i * m, out[i], 0, m);
        }
        return out;
    }

    @Test
    void logitsMatchModelingChatglm() throws Exception {
        PreTrainedModel m = model();
        assertThat(m).isInstanceOf(ChatGLMForConditionalGeneration.class);
        try (SafeTensors ref = SafeTensors.open(dir().resolve("reference.safetensors"))) {
            Tensor logits = m.logits(ref.get("input_ids"), null);
            assertThat(logits.shape()).containsExactly(ref.get("logits").shape());
            assertThat(Fixtures.maxAbsDiff(logits.toFloatArray(), ref.get("logits").toFloatArray())).isLessThan(TOL);
        }
    }

    @Test
    void leftPaddedBatchMatchesOnValidPositions() throws Exception {
        PreTrainedModel m = model();
        try (SafeTensors ref = SafeTensors.open(dir().resolve("reference.safetensors"))) {
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
            assertThat(checked).isEqualTo(15);
            assertThat(maxDiff).isLessThan(TOL);
            // modeling_chatglm lets a padded query attend to every key: its logits match too
            assertThat(Fixtures.maxAbsDiff(got, want)).isLessThan(TOL);
        }
    }

    @Test
    void greedyGenerationMatchesModelingChatglm() throws Exception {
        PreTrainedModel m = model();
        Generator gen = new Generator(m);
        try (SafeTensors f = SafeTensors.open(dir().resolve("reference.safetensors"))) {
            GenerationConfig one = GenerationConfig.builder().maxNewTokens(8).eosTokenId(NEVER_EOS).build();
            assertThat(gen.generate(rows(f.get("gen_prompt"))[0], one)).containsExactly(rows(f.get("gen_output"))[0]);
            GenerationConfig batch = GenerationConfig.builder().maxNewTokens(8).eosTokenId(NEVER_EOS).padTokenId(0L)
                    .build();
            long[][] got = gen.generate(rows(f.get("genb_prompt")), rows(f.get("genb_mask")), batch);
            long[][] want = rows(f.get("genb_output"));
            for (int b = 0; b < want.length; b++) {
                assertThat(got[b]).as("row " + b).containsExactly(want[b]);
            }
        }
    }

    @Test
    void everyParameterGradientMatchesTorch() throws Exception {
        PreTrainedModel m = model();
        try (SafeTensors ref = SafeTensors.open(dir().resolve("reference.safetensors"))) {
            FullGradients out = FullGradients.of(m, ref.get("input_ids"), null, ref.get("labels"));
            assertThat(out.loss).isCloseTo(ref.get("loss").getFloat(0), within(1e-5));
            assertThat(out.gradients).hasSize(17);
            for (Map.Entry<String, float[]> e : out.gradients.entrySet()) {
                float[] want = ref.get("grad." + e.getKey()).toFloatArray();
                assertThat(FullGradients.relativeL2(e.getValue(), want)).as(e.getKey()).isLessThan(1e-4);
            }
        }
    }

    @Test
    void moduleAndParameterNamesMatchModelingChatglm() throws Exception {
        JsonObject ref = Fixtures.json(dir().resolve("reference.json"));
        PreTrainedModel m = AutoModelForCausalLM.fromConfig(ModelConfig.load(dir().resolve("model/config.json")));
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
    }

    @Test
    void savedStateDictHasTheCheckpointKeysIncludingInvFreq(@TempDir Path tmp) throws Exception {
        PreTrainedModel m = model();
        JsonObject ref = Fixtures.json(dir().resolve("reference.json"));
        List<String> keys = new ArrayList<>();
        for (JsonElement e : ref.getAsJsonArray("state_dict_keys")) {
            keys.add(e.getAsString());
        }
        assertThat(new ArrayList<>(m.stateDict().keySet())).containsExactlyInAnyOrderElementsOf(keys);
        m.savePretrained(tmp);
        try (SafeTensors saved = SafeTensors.open(tmp.resolve("model.safetensors"));
                SafeTensors orig = SafeTensors.open(dir().resolve("model/model.safetensors"))) {
            assertThat(saved.keys()).containsExactlyInAnyOrderElementsOf(orig.keys());
            for (String k : orig.keys()) {
                assertThat(saved.get(k).contentEquals(orig.get(k))).as(k).isTrue();
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"chatglm2-6b", "chatglm3-6b"})
    void shapeOnlyCountsOfTheRealConfigsEqualTorchMetaCounts(String name) throws Exception {
        JsonObject counts = Fixtures.json(dir().resolve("counts.json")).getAsJsonObject(name);
        PreTrainedModel m = AutoModelForCausalLM.fromConfig(ModelConfig.load(dir().resolve("configs")
                .resolve(name + ".json")));
        assertThat(m.numParameters()).isEqualTo(counts.get("num_parameters").getAsLong());
        assertThat(m.numParameters()).isEqualTo(6_243_584_000L);
        // parameters plus the rotary inv_freq buffer
        assertThat(m.namedParameters().size() + 1).isEqualTo(counts.get("state_dict_num_keys").getAsInt());
        assertThat(m.getParameter("transformer.encoder.layers.0.self_attention.query_key_value.weight").shape())
                .containsExactly(counts.get("query_key_value_out").getAsLong(), 4096L);
        assertThat(m.parameters()).noneMatch(Parameter::hasData);
    }
}
