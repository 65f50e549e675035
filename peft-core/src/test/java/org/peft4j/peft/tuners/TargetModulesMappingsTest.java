package org.peft4j.peft.tuners;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.testutil.Fixtures;

/** The IA3 and AdaLoRA tables against PEFT 0.21.2's {@code peft.utils.constants} (make_peft_rule_fixtures.py). */
class TargetModulesMappingsTest {
    /** PEFT's table with its list entries (regex-string entries dropped, as the Java table drops them). */
    static Map<String, List<String>> peft(String name) throws Exception {
        JsonObject m = Fixtures.json(Fixtures.root().resolve("peft-rules").resolve("target_mappings.json"))
                .getAsJsonObject("mappings").getAsJsonObject(name);
        Map<String, List<String>> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : m.entrySet()) {
            if (e.getValue().isJsonArray()) {
                List<String> l = new ArrayList<>();
                e.getValue().getAsJsonArray().forEach(x -> l.add(x.getAsString()));
                out.put(e.getKey(), l);
            }
        }
        return out;
    }

    @Test
    void tablesArePeftsEntryByEntry() throws Exception {
        assertThat(TargetModulesMappings.IA3_TARGET_MODULES).isEqualTo(peft("IA3_TARGET_MODULES"));
        assertThat(TargetModulesMappings.IA3_FEEDFORWARD_MODULES).isEqualTo(peft("IA3_FEEDFORWARD_MODULES"));
        assertThat(TargetModulesMappings.ADALORA_TARGET_MODULES).isEqualTo(peft("ADALORA_TARGET_MODULES"));
    }

    @Test
    void everyModelTypePeft4jLoadsHasPeftsDefaultOrNone() throws Exception {
        Map<String, List<String>> ia3 = peft("IA3_TARGET_MODULES");
        Map<String, List<String>> ada = peft("ADALORA_TARGET_MODULES");
        for (String type : AutoModelForCausalLM.supportedModelTypes()) {
            assertThat(TargetModulesMappings.IA3_TARGET_MODULES.get(type)).as(type).isEqualTo(ia3.get(type));
            assertThat(TargetModulesMappings.ADALORA_TARGET_MODULES.get(type)).as(type).isEqualTo(ada.get(type));
        }
        // PEFT has no IA3 default for these two of ours: target_modules must be given
        assertThat(TargetModulesMappings.IA3_TARGET_MODULES).doesNotContainKeys("phi3", "chatglm");
        assertThat(TargetModulesMappings.IA3_FEEDFORWARD_MODULES.get("llama")).containsExactly("down_proj");
        assertThat(TargetModulesMappings.IA3_TARGET_MODULES.get("opt")).containsExactly("q_proj", "k_proj", "fc2");
    }
}
