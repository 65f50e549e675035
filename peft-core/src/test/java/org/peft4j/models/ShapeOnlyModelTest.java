package org.peft4j.models;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.graph.Parameter;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.testutil.Fixtures;

/** Real configurations built shape-only: parameter counts and names against torch's meta-device counts. */
class ShapeOnlyModelTest {

    @ParameterizedTest
    @ValueSource(strings = {"llama-2-7b", "llama-3.2-1b", "qwen2.5-0.5b", "tinyllama-1.1b", "mistral-7b-v0.1", "gpt2"})
    void countsMatchTorch(String name) throws Exception {
        Path configs = Fixtures.root().resolve("configs");
        JsonObject want = Fixtures.json(configs.resolve("counts.json")).getAsJsonObject(name);
        PreTrainedModel m = AutoModelForCausalLM.fromConfig(ModelConfig.load(configs.resolve(name + ".json")));
        assertThat(m.numParameters()).isEqualTo(want.get("num_parameters").getAsLong());
        assertThat(m.namedParameters(false)).hasSize(want.get("state_dict_num_keys").getAsInt());
        assertThat(m.getParameter(m.inputEmbeddingsName() + ".weight").numel()).isEqualTo(want.get("input_embedding_parameters").getAsLong());
        for (JsonElement e : want.getAsJsonArray("layer0_parameters")) {
            JsonArray pair = e.getAsJsonArray();
            Parameter p = m.getParameter(pair.get(0).getAsString());
            assertThat(p).as(pair.get(0).getAsString()).isNotNull();
            List<Long> shape = new ArrayList<>();
            for (JsonElement d : pair.get(1).getAsJsonArray()) {
                shape.add(d.getAsLong());
            }
            assertThat(p.shape()).containsExactly(shape.stream().mapToLong(Long::longValue).toArray());
        }
        assertThat(m.parameters()).noneMatch(Parameter::hasData);
    }

    @Test
    void llama2SevenBillionIsCountedWithoutAllocating() throws Exception {
        Path cfg = Fixtures.root().resolve("configs").resolve("llama-2-7b.json");
        Runtime rt = Runtime.getRuntime();
        long before = rt.totalMemory() - rt.freeMemory();
        PreTrainedModel m = AutoModelForCausalLM.fromConfig(ModelConfig.load(cfg));
        assertThat(m.numParameters()).isEqualTo(6_738_415_616L);
        long after = rt.totalMemory() - rt.freeMemory();
        // 27 GB of float32 weights would not fit in the 2 GB test heap; the structure takes well under 64 MB
        assertThat(after - before).isLessThan(64L << 20);
        Map<String, org.peft4j.nn.Module> modules = m.namedModules();
        assertThat(modules).containsKey("model.layers.31.self_attn.q_proj").containsKey("model.rotary_emb");
    }

    @Test
    void unknownModelTypeListsTheSupportedOnes() {
        ModelConfig c = ModelConfig.parse("{\"model_type\": \"falcon\"}");
        assertThatThrownBy(() -> AutoModelForCausalLM.fromConfig(c))
                .hasMessageContaining("unsupported model_type 'falcon'")
                .hasMessageContaining("chatglm, gemma2, gpt2, llama, mistral, opt, phi3, qwen2, qwen3");
    }

    @Test
    void badConfigFieldsNameTheFileAndField() {
        ModelConfig c = ModelConfig.parse("{\"model_type\": \"llama\", \"vocab_size\": \"many\"}");
        assertThatThrownBy(() -> AutoModelForCausalLM.fromConfig(c))
                .hasMessageContaining("field 'vocab_size' should be an integer");
        ModelConfig d = ModelConfig.parse("{\"model_type\": \"llama\", \"vocab_size\": 10}");
        assertThatThrownBy(() -> AutoModelForCausalLM.fromConfig(d)).hasMessageContaining("missing field 'hidden_size'");
    }
}
