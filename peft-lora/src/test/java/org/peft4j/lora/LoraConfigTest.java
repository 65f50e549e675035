package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftConfigs;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.config.ConfigJson;
import org.peft4j.peft.config.TaskType;
import org.peft4j.testutil.Fixtures;

class LoraConfigTest {
    @Test
    void defaultsArePefts() {
        LoraConfig c = LoraConfig.builder().build();
        assertThat(c.r()).isEqualTo(8);
        assertThat(c.loraAlpha()).isEqualTo(8.0);
        assertThat(c.loraDropout()).isEqualTo(0.0);
        assertThat(c.bias()).isEqualTo("none");
        assertThat(c.initLoraWeights()).isEqualTo(true);
        assertThat(c.targetModules()).isNull();
        assertThat(c.fanInFanOut()).isFalse();
        assertThat(c.useRslora()).isFalse();
        assertThat(c.useDora()).isFalse();
        assertThat(c.loraBias()).isFalse();
        assertThat(c.rankPattern()).isEmpty();
        assertThat(c.alphaPattern()).isEmpty();
        assertThat(c.inferenceMode()).isFalse();
    }

    @Test
    void writesTheSameKeysAsPeft021() throws Exception {
        JsonObject peft = Fixtures.json(Fixtures.root().resolve("lora/qv/adapter/adapter_config.json"));
        JsonObject ours = JsonParser.parseString(LoraConfig.builder().targetModules("q_proj", "v_proj").build().toJson())
                .getAsJsonObject();
        assertThat(new TreeSet<>(ours.keySet())).isEqualTo(new TreeSet<>(peft.keySet()));
        // keys written in sorted order, as json.dumps(sort_keys=True)
        assertThat(new java.util.ArrayList<>(ours.keySet())).isEqualTo(new java.util.ArrayList<>(new TreeSet<>(ours.keySet())));
    }

    @Test
    void peftWrittenConfigRoundTrips() throws Exception {
        Path file = Fixtures.root().resolve("lora/patterns/adapter/adapter_config.json");
        LoraConfig c = (LoraConfig) PeftConfigs.fromPretrained(file);
        assertThat(c.taskType()).isEqualTo(TaskType.CAUSAL_LM);
        // json.dumps(sort_keys=True) sorts nested objects too, so the file order is not the order given in Python
        assertThat(c.rankPattern()).containsOnly(Map.entry("q_proj", 4), Map.entry("model.layers.1.self_attn.v_proj",
                2));
        assertThat(c.alphaPattern()).containsExactly(Map.entry("down_proj", 3.0));
        assertThat(targets(c.targetModules())).containsExactlyInAnyOrder("q_proj", "v_proj", "down_proj");
        JsonObject peft = Fixtures.json(file);
        JsonObject again = JsonParser.parseString(c.toJson()).getAsJsonObject();
        for (String k : peft.keySet()) {
            if (k.equals("target_modules")) {
                continue; // a set: order is Python's hash order
            }
            assertThat(again.get(k)).as(k).isEqualTo(peft.get(k));
        }
    }

    @Test
    void unknownKeysFromNewerPeftAreIgnored() throws Exception {
        JsonObject o = Fixtures.json(Fixtures.root().resolve("lora/qv/adapter/adapter_config.json"));
        o.addProperty("some_future_option", 3);
        o.add("another_one", JsonParser.parseString("{\"x\": 1}"));
        Path dir = Files.createTempDirectory("cfg");
        Files.writeString(dir.resolve("adapter_config.json"), o.toString());
        LoraConfig c = (LoraConfig) PeftConfigs.fromPretrained(dir);
        assertThat(c.r()).isEqualTo(8);
        ConfigJson j = ConfigJson.parse(o.toString(), "x");
        LoraConfig.fromJson(j);
        assertThat(j.unread()).containsExactly("another_one", "some_future_option");
    }

    @Test
    void minimalConfigLoads() throws Exception {
        Path dir = Files.createTempDirectory("cfg");
        Files.writeString(dir.resolve("adapter_config.json"), "{\"peft_type\": \"LORA\", \"target_modules\": [\"q_proj\"]}");
        LoraConfig c = (LoraConfig) PeftConfigs.fromPretrained(dir);
        assertThat(targets(c.targetModules())).containsExactly("q_proj");
        assertThat(c.r()).isEqualTo(8);
    }

    @Test
    void badFilesNameTheFileAndField() throws Exception {
        Path dir = Files.createTempDirectory("cfg");
        Files.writeString(dir.resolve("adapter_config.json"), "{\"peft_type\": \"LORA\", \"r\": \"eight\"}");
        assertThatThrownBy(() -> PeftConfigs.fromPretrained(dir)).hasMessageContaining("adapter_config.json")
                .hasMessageContaining("'r'").hasMessageContaining("an integer");
        Files.writeString(dir.resolve("adapter_config.json"), "{\"r\": 8}");
        assertThatThrownBy(() -> PeftConfigs.fromPretrained(dir)).hasMessageContaining("missing required keys: "
                + "{'peft_type'}");
        Files.writeString(dir.resolve("adapter_config.json"), "{\"peft_type\": \"LORA\", \"task_type\": \"CHAT\"}");
        assertThatThrownBy(() -> PeftConfigs.fromPretrained(dir)).hasMessageContaining(
                "Invalid task type: 'CHAT'. Must be one of the following task types: SEQ_CLS, SEQ_2_SEQ_LM, "
                        + "CAUSAL_LM, TOKEN_CLS, QUESTION_ANS, FEATURE_EXTRACTION.");
    }

    @Test
    void validationMessagesArePefts() {
        assertThatThrownBy(() -> LoraConfig.builder().targetModulesRegex(".*q_proj").layersToTransform(0).build())
                .hasMessage("`layers_to_transform` cannot be used when `target_modules` is a str.");
        assertThatThrownBy(() -> LoraConfig.builder().targetModulesRegex(".*q_proj").layersPattern("layers").build())
                .hasMessage("`layers_pattern` cannot be used when `target_modules` is a str.");
        assertThatThrownBy(() -> LoraConfig.builder().targetModules("q_proj").layersPattern("layers").build())
                .hasMessage("When `layers_pattern` is specified, `layers_to_transform` must also be specified. ");
        assertThatThrownBy(() -> LoraConfig.builder().r(0).build())
                .hasMessage("`r` should be a positive integer value but the value passed is 0");
        assertThatThrownBy(() -> LoraConfig.builder().bias("some").build())
                .hasMessage("Requested bias: some, is not implemented.");
    }

    @Test
    void defaultTargetsPerModelType() throws Exception {
        PreTrainedModel gpt2 = AutoModelForCausalLM.fromPretrained(Fixtures.model("gpt2"));
        PeftModel pm = Peft.getPeftModel(gpt2, LoraConfig.builder().build());
        assertThat(targets(((LoraConfig) pm.activePeftConfig()).targetModules())).containsExactly("c_attn");
        assertThat(pm.tuner().tunerLayers().keySet()).containsExactly("transformer.h.0.attn.c_attn",
                "transformer.h.1.attn.c_attn");
        // GPT-2's Conv1D forces fan_in_fan_out, with PEFT's warning, on the shared config
        assertThat(((LoraConfig) pm.activePeftConfig()).fanInFanOut()).isTrue();
    }

    @Test
    void allLinearOnALargeModelIsCondensedToMinimalSuffixes() throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromConfig(ModelConfig.load(
                Fixtures.root().resolve("configs/llama-2-7b.json")));
        PeftModel pm = Peft.getPeftModel(m, LoraConfig.builder().r(16).targetModules("all-linear").build());
        assertThat(targets(((LoraConfig) pm.activePeftConfig()).targetModules())).containsExactlyInAnyOrder(
                "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");
        assertThat(pm.tuner().tunerLayers()).hasSize(32 * 7).doesNotContainKey("lm_head");
    }

    static Set<String> targets(Object o) {
        Set<String> out = new java.util.LinkedHashSet<>();
        for (Object x : (Set<?>) o) {
            out.add((String) x);
        }
        return out;
    }

    @Test
    void peftSetStringsInMessages() {
        assertThat(org.peft4j.util.PyRepr.set(List.of("a", "b"))).isEqualTo("{'a', 'b'}");
    }

    /** The rslora + rank/alpha pattern warning fires exactly where PEFT 0.21.2's LoraConfig warns (fixture table). */
    @Test
    void rsloraPatternWarningFollowsPeftsCondition() throws Exception {
        JsonObject table = Fixtures.json(Fixtures.root().resolve("peft-rules").resolve("rslora_warning.json"));
        assertThat(LoraConfig.RSLORA_PATTERN_WARNING).isEqualTo(table.get("message").getAsString());
        int rows = 0;
        int warns = 0;
        for (com.google.gson.JsonElement e : table.getAsJsonArray("rows")) {
            JsonObject r = e.getAsJsonObject();
            com.google.gson.JsonPrimitive init = r.getAsJsonPrimitive("init_lora_weights");
            Object initValue = init.isBoolean() ? (Object) init.getAsBoolean() : init.getAsString();
            boolean patterns = r.getAsJsonObject("rank_pattern").size() + r.getAsJsonObject("alpha_pattern").size() > 0;
            boolean want = r.get("warns").getAsBoolean();
            assertThat(LoraConfig.warnsRsloraWithPatterns(r.get("use_rslora").getAsBoolean(), patterns, initValue))
                    .as(r.toString()).isEqualTo(want);
            rows++;
            warns += want ? 1 : 0;
        }
        assertThat(rows).isGreaterThan(60);
        assertThat(warns).isBetween(10, rows - 10);
    }
}
