package org.peft4j.data;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.testutil.Fixtures;

/**
 * Jinjava renders chat templates as transformers' jinja2 environment does (interop/chat_template_fixtures.py):
 * whitespace control on expressions ({@code {{- ... }}} after an indented line, as in Qwen2.5's and Llama 3.1's
 * templates), {@code trim_blocks} / {@code lstrip_blocks}, {@code namespace}, slices, {@code raise_exception}.
 */
class ChatTemplateJinja2ParityTest {
    @Test
    void everyTemplateRendersAsTransformersDoes() throws Exception {
        JsonObject ref = Fixtures.json(Fixtures.root().resolve("chat-templates/reference.json"));
        int compared = 0;
        List<String> mismatches = new ArrayList<>();
        for (Map.Entry<String, JsonElement> e : ref.getAsJsonObject("cases").entrySet()) {
            JinjaChatTemplate t = new JinjaChatTemplate(LocatedChatRenderingTest.template(e.getKey()), "<s>", "</s>");
            for (JsonElement r : e.getValue().getAsJsonArray()) {
                JsonObject row = r.getAsJsonObject();
                List<Message> msgs = new ArrayList<>();
                for (JsonElement m : row.getAsJsonArray("messages")) {
                    msgs.add(new Message(m.getAsJsonObject().get("role").getAsString(),
                            m.getAsJsonObject().get("content").getAsString()));
                }
                boolean gen = row.get("add_generation_prompt").getAsBoolean();
                String expected = row.has("error") ? "error: " + row.get("error").getAsString()
                        : row.get("rendered").getAsString();
                String actual;
                try {
                    actual = t.render(msgs, gen);
                } catch (IllegalArgumentException ex) {
                    actual = "error: " + ex.getMessage();
                }
                boolean same = row.has("error") ? actual.startsWith("error: ") && actual.contains(expected.substring(7))
                        : actual.equals(expected);
                if (!same) {
                    mismatches.add(e.getKey() + ", add_generation_prompt " + gen + ", " + msgs.size()
                            + " messages:\n  expected " + expected.replace("\n", "\\n") + "\n  actual   "
                            + actual.replace("\n", "\\n"));
                }
                compared++;
            }
        }
        assertThat(mismatches).isEmpty();
        assertThat(compared).isGreaterThanOrEqualTo(11 * 8);
    }
}
