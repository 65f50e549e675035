package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.peft.PeftConfigs;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.testutil.Fixtures;

/**
 * Issue 15: the Gson-free config API (toDict, fromDict, fromJson text, auto_mapping as a map) against PEFT 0.21.2's
 * own {@code adapter_config.json} (interop/fixtures/lora/qv, written by {@code LoraConfig.save_pretrained}).
 */
class LoraConfigPlainTest {
    static final Path PEFT = Fixtures.root().resolve("lora/qv/adapter/adapter_config.json");

    @Test
    void toDictIsPeftsToDict() throws Exception {
        Map<String, Object> d = PeftConfigs.fromPretrained(PEFT).toDict();
        // the values json.load gives for PEFT's file: ints stay ints, nulls are kept, keys sorted
        assertThat(d.get("r")).isEqualTo(8);
        assertThat(d.get("lora_alpha")).isEqualTo(16);
        assertThat(d.get("lora_dropout")).isEqualTo(0.0);
        assertThat(d.get("qalora_group_size")).isEqualTo(16);
        assertThat(d.get("target_modules")).isEqualTo(List.of("v_proj", "q_proj"));
        assertThat(d.get("loftq_config")).isEqualTo(Map.of());
        assertThat(d.get("peft_type")).isEqualTo("LORA");
        assertThat(d.get("task_type")).isEqualTo("CAUSAL_LM");
        assertThat(d).containsEntry("auto_mapping", null).containsEntry("revision", null);
        JsonObject peft = Fixtures.json(PEFT);
        assertThat(new ArrayList<>(d.keySet())).isEqualTo(new ArrayList<>(peft.keySet()));
        Gson gson = new GsonBuilder().serializeNulls().create();
        assertThat(gson.toJsonTree(d)).isEqualTo(peft);
    }

    @Test
    void fromDictAndFromJsonBuildPeftsConfig() throws Exception {
        String text = Files.readString(PEFT, StandardCharsets.UTF_8);
        JsonObject peft = JsonParser.parseString(text).getAsJsonObject();
        // Gson's own reading of the file: every number a Double, as a caller's map may hold them
        @SuppressWarnings("unchecked")
        Map<String, Object> kwargs = new Gson().fromJson(text, Map.class);
        assertThat(kwargs.get("r")).isEqualTo(8.0);
        PeftConfig fromDict = PeftConfigs.fromDict(kwargs, "kwargs");
        assertThat(fromDict).isInstanceOf(LoraConfig.class);
        assertThat(((LoraConfig) fromDict).r()).isEqualTo(8);
        assertThat(JsonParser.parseString(fromDict.toJson())).isEqualTo(peft);
        PeftConfig fromJson = PeftConfigs.fromJson(text, "text");
        assertThat(fromJson.toJson()).isEqualTo(PeftConfigs.fromPretrained(PEFT).toJson());
        kwargs.put("r", 8.5);
        assertThatThrownBy(() -> PeftConfigs.fromDict(kwargs, "kwargs")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("kwargs: field 'r' must be an integer in [-2147483648, 2147483647], got 8.5");
        kwargs.remove("peft_type");
        assertThatThrownBy(() -> PeftConfigs.fromDict(kwargs, "kwargs"))
                .hasMessage("kwargs: The config that is trying to be loaded is missing required keys: {'peft_type'}.");
        assertThatThrownBy(() -> PeftConfigs.fromJson(text + "x", "t.json"))
                .isInstanceOf(org.peft4j.ConfigException.class).hasMessageStartingWith("t.json: malformed JSON");
    }

    @Test
    void autoMappingIsAPlainMapAndACopy() throws Exception {
        LoraConfig c = LoraConfig.builder().targetModules("q_proj").build();
        assertThat(c.autoMapping()).isNull();
        Map<String, Object> am = new LinkedHashMap<>();
        am.put("base_model_class", "LlamaForCausalLM");
        am.put("parent_library", "transformers.models.llama.modeling_llama");
        c.setAutoMapping(am);
        am.put("base_model_class", "changed");
        assertThat(c.autoMapping()).containsExactly(Map.entry("base_model_class", "LlamaForCausalLM"),
                Map.entry("parent_library", "transformers.models.llama.modeling_llama"));
        c.autoMapping().clear();
        assertThat(JsonParser.parseString(c.toJson()).getAsJsonObject().getAsJsonObject("auto_mapping").toString())
                .isEqualTo("{\"base_model_class\":\"LlamaForCausalLM\","
                        + "\"parent_library\":\"transformers.models.llama.modeling_llama\"}");
        assertThat(c.copy().autoMapping()).isEqualTo(c.autoMapping());
        c.setAutoMapping(null);
        assertThat(c.toDict()).containsEntry("auto_mapping", null);
    }
}
