package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.testutil.Fixtures;

/**
 * {@code LoraModel.DEFAULT_TARGET_MODULES} against PEFT 0.21.2's TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING
 * (make_peft_rule_fixtures.py): every entry peft4j has is PEFT's, and every model type peft4j loads has PEFT's
 * default or, as in PEFT, none (phi3).
 */
class DefaultTargetModulesTest {
    @Test
    void entriesArePefts() throws Exception {
        JsonObject m = Fixtures.json(Fixtures.root().resolve("peft-rules").resolve("target_mappings.json"))
                .getAsJsonObject("mappings").getAsJsonObject("LORA_TARGET_MODULES");
        for (Map.Entry<String, List<String>> e : LoraModel.DEFAULT_TARGET_MODULES.entrySet()) {
            JsonElement want = m.get(e.getKey());
            assertThat(want).as(e.getKey()).isNotNull();
            List<String> l = new ArrayList<>();
            want.getAsJsonArray().forEach(x -> l.add(x.getAsString()));
            assertThat(e.getValue()).as(e.getKey()).isEqualTo(l);
        }
        for (String type : AutoModelForCausalLM.supportedModelTypes()) {
            assertThat(LoraModel.DEFAULT_TARGET_MODULES.containsKey(type)).as(type).isEqualTo(m.has(type));
        }
    }
}
