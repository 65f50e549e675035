package org.peft4j.prefix;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.peft.PeftConfigs;
import org.peft4j.peft.config.TaskType;

/** Issue 15: {@code tokenizer_kwargs} as a plain map, written and read back as PEFT's JSON object. */
class TokenizerKwargsPlainTest {
    @Test
    void tokenizerKwargsArePlainMapsWrittenAsGiven() {
        Map<String, Object> kw = new LinkedHashMap<>();
        kw.put("add_prefix_space", true);
        kw.put("subfolder", "tok");
        kw.put("revision_number", 3L);
        PromptTuningConfig c = new PromptTuningConfig(4).taskType(TaskType.CAUSAL_LM).initText("hi", "some/tokenizer")
                .tokenizerKwargs(kw);
        kw.put("subfolder", "changed");
        String json = c.toJson();
        assertThat(json).contains("\"tokenizer_kwargs\": {\n    \"add_prefix_space\": true,\n    \"subfolder\": \"tok\",\n"
                + "    \"revision_number\": 3\n  }");
        PromptTuningConfig back = (PromptTuningConfig) PeftConfigs.fromJson(json, "adapter_config.json");
        assertThat(back.tokenizerKwargs()).containsExactly(Map.entry("add_prefix_space", true),
                Map.entry("subfolder", "tok"), Map.entry("revision_number", 3));
        back.tokenizerKwargs().put("subfolder", "x");
        assertThat(back.tokenizerKwargs()).containsEntry("subfolder", "tok");
        assertThat(back.copy().toJson()).isEqualTo(json);
        assertThat(new PromptTuningConfig(4).tokenizerKwargs()).isNull();
    }
}
