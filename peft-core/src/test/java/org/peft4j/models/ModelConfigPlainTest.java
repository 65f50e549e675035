package org.peft4j.models;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.testutil.Fixtures;

/**
 * Issue 15: ModelConfig's Gson-free accessors against the fixture's config.json as written by transformers 5.23 (the
 * expected values are read off the file by hand).
 */
class ModelConfigPlainTest {
    static ModelConfig llama() throws Exception {
        return ModelConfig.load(Fixtures.model("llama-mha").resolve("config.json"));
    }

    @Test
    void toDictIsTheFileAsPlainJava() throws Exception {
        Map<String, Object> d = llama().toDict();
        assertThat(new ArrayList<>(d.keySet()).subList(0, 4)).containsExactly("architectures", "attention_bias",
                "attention_dropout", "bos_token_id");
        assertThat(d.get("architectures")).isEqualTo(List.of("LlamaForCausalLM"));
        assertThat(d.get("num_hidden_layers")).isEqualTo(2);
        assertThat(d.get("rms_norm_eps")).isEqualTo(1e-6);
        assertThat(d.get("attention_dropout")).isEqualTo(0.0);
        assertThat(d).containsEntry("pad_token_id", null);
        assertThat(d.get("rope_parameters")).isEqualTo(Map.of("rope_theta", 10000.0, "rope_type", "default"));
        assertThat(d).hasSize(25);
    }

    @Test
    void fieldAccessors() throws Exception {
        ModelConfig c = llama();
        assertThat(c.getMap("rope_parameters")).containsExactly(Map.entry("rope_theta", 10000.0),
                Map.entry("rope_type", "default"));
        assertThat(c.getMap("absent")).isNull();
        assertThat(c.getMap("pad_token_id")).isNull();
        assertThatThrownBy(() -> c.getMap("architectures")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageEndingWith("config.json: field 'architectures' should be an object, got "
                        + "[\"LlamaForCausalLM\"]");
        assertThat(c.get("vocab_size")).isEqualTo(256);
        assertThat(c.get("pad_token_id")).isNull();
        // numbers as written in the file, not as Java prints them (1.0E-6)
        assertThat(c.getJson("rms_norm_eps")).isEqualTo("1e-06");
        assertThat(c.getJson("rope_parameters")).isEqualTo("{\"rope_theta\":10000.0,\"rope_type\":\"default\"}");
        assertThat(c.getJson("pad_token_id")).isNull();
        // a copy: changing it changes nothing
        c.getMap("rope_parameters").put("rope_type", "linear");
        assertThat(c.getJson("rope_parameters")).contains("\"default\"");
    }

    @Test
    void fromDictWithAFieldChangedBuildsThatModel() throws Exception {
        Map<String, Object> d = llama().toDict();
        d.put("num_hidden_layers", 1);
        d.put("rms_norm_eps", 1e-5);
        ModelConfig c = ModelConfig.fromDict(d, "edited");
        assertThat(c.source()).isEqualTo("edited");
        assertThat(c.getInt("num_hidden_layers")).isEqualTo(1);
        assertThat(c.getDouble("rms_norm_eps")).isEqualTo(1e-5);
        assertThat(c.containsKey("pad_token_id")).isTrue();
        PreTrainedModel m = AutoModelForCausalLM.fromConfig(c);
        assertThat(m.namedParameters().keySet()).noneMatch(k -> k.contains("layers.1."));
        assertThat(m.namedParameters().keySet()).anyMatch(k -> k.contains("layers.0."));
        d.put("num_hidden_layers", 4294967296L);
        assertThatThrownBy(() -> AutoModelForCausalLM.fromConfig(ModelConfig.fromDict(d, "edited")))
                .hasMessageContaining("edited: field 'num_hidden_layers'");
    }

    @Test
    void parseNamesItsSource() {
        ModelConfig c = ModelConfig.parse("{\"model_type\": \"llama\", \"eps\": 1e-05}", "inline.json");
        assertThat(c.source()).isEqualTo("inline.json");
        assertThat(c.getJson("eps")).isEqualTo("1e-05");
        assertThatThrownBy(() -> ModelConfig.parse("{\"a\": NaN}", "bad.json"))
                .isInstanceOf(org.peft4j.ConfigException.class).hasMessageStartingWith("bad.json: malformed JSON");
    }
}
