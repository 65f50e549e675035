package org.peft4j.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.testutil.Fixtures;

/**
 * Message content is data, never template code: hostile content ({@code {{ 7*7 }}}, {@code {% include %}},
 * {@code raise_exception}, a huge {@code range}) renders verbatim, exactly as transformers' apply_chat_template
 * renders it (interop/chat_content_fixtures.py); and the template itself runs sandboxed (no resource loading,
 * bounded loops and output).
 */
class ChatContentIsDataTest {
    private static JsonObject ref;
    private static HfTokenizer tokenizer;

    @BeforeAll
    static void load() throws Exception {
        Path file = Fixtures.root().resolve("chat-content").resolve("reference.json");
        ref = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8)).getAsJsonObject();
        tokenizer = HfTokenizer.load(Fixtures.root().resolve("tokenizer"));
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    private static ChatTemplate template(JsonObject t) {
        return ChatTemplate.jinja(t.get("template").getAsString(), t.get("bos_token").getAsString(),
                t.get("eos_token").getAsString());
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void hostileChatsRenderAsTransformersRendersThem() {
        int checked = 0;
        for (JsonElement te : ref.getAsJsonArray("templates")) {
            JsonObject t = te.getAsJsonObject();
            ChatTemplate template = template(t);
            for (JsonElement ce : t.getAsJsonArray("chats")) {
                JsonObject c = ce.getAsJsonObject();
                List<Message> chat = HfTokenizerTest.messages(c.getAsJsonArray("messages"));
                String name = t.get("name").getAsString();
                assertThat(template.render(chat, false)).as(name).isEqualTo(c.get("rendered").getAsString());
                assertThat(template.render(chat, true)).as(name)
                        .isEqualTo(c.get("rendered_with_generation_prompt").getAsString());
                for (Message m : chat) {
                    assertThat(template.render(chat, false)).as(name).contains(m.content());
                }
                checked++;
            }
        }
        assertThat(checked).isEqualTo(6);
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void hostileGeneratePromptsRenderAsTransformersRendersThem() {
        int checked = 0;
        for (JsonElement te : ref.getAsJsonArray("templates")) {
            JsonObject t = te.getAsJsonObject();
            ChatTemplate template = template(t);
            for (JsonElement pe : t.getAsJsonArray("prompts")) {
                JsonObject p = pe.getAsJsonObject();
                String prompt = p.get("prompt").getAsString();
                assertThat(template.render(List.of(Message.user(prompt)), true)).as(prompt)
                        .isEqualTo(p.get("rendered").getAsString());
                checked++;
            }
        }
        assertThat(checked).isEqualTo(21);
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void tokenizerFolderTemplateKeepsContentVerbatim() {
        ChatTemplate template = tokenizer.chatTemplate();
        JsonObject llama = ref.getAsJsonArray("templates").get(0).getAsJsonObject();
        for (JsonElement pe : llama.getAsJsonArray("prompts")) {
            JsonObject p = pe.getAsJsonObject();
            assertThat(template.render(List.of(Message.user(p.get("prompt").getAsString())), true))
                    .isEqualTo(p.get("rendered").getAsString());
        }
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void trainingLabelsCoverTheHostileAssistantTurnsVerbatim() {
        SftTokenizer sft = SftTokenizer.of(tokenizer, 4096);
        JsonObject llama = ref.getAsJsonArray("templates").get(0).getAsJsonObject();
        for (JsonElement ce : llama.getAsJsonArray("chats")) {
            JsonObject c = ce.getAsJsonObject();
            List<Message> chat = HfTokenizerTest.messages(c.getAsJsonArray("messages"));
            TokenizedExample ex = sft.tokenize(new InstructionRecord.Chat(chat));
            assertThat(ex.inputIds()).containsExactly(tokenizer.encode(c.get("rendered").getAsString(), false));
            List<String> expected = new ArrayList<>();
            for (Message m : chat) {
                if (m.isAssistant()) {
                    expected.add(m.content() + "<|eot_id|>");
                }
            }
            assertThat(countedRuns(ex)).containsExactlyElementsOf(expected);
        }
    }

    @Test
    void templateThatIncludesAFileFailsNamingIt() {
        for (String tag : List.of("{% include 'secret.txt' %}", "{% import 'secret.txt' as m %}",
                "{% from 'secret.txt' import m %}")) {
            ChatTemplate template = ChatTemplate.jinja("{{ bos_token }}" + tag + "{{ messages[0].content }}",
                    "<s>", "</s>");
            assertThatThrownBy(() -> template.render(List.of(Message.user("q")), false)).as(tag)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("secret.txt")
                    .hasMessageContaining("chat templates may not load other templates");
        }
    }

    @Test
    void tokenizerConfigTemplateThatIncludesFailsNamingTheFiles(@TempDir Path dir) throws Exception {
        Files.copy(Fixtures.root().resolve("tokenizer").resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        JsonObject config = new JsonObject();
        config.addProperty("chat_template", "{% include 'secret.jinja' %}{{ messages[0]['content'] }}");
        Files.writeString(dir.resolve("tokenizer_config.json"), config.toString());
        try (HfTokenizer tok = HfTokenizer.load(dir)) {
            ChatTemplate template = tok.chatTemplate();
            assertThatThrownBy(() -> template.render(List.of(Message.user("q")), true))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(dir.resolve("tokenizer_config.json").toString())
                    .hasMessageContaining("'secret.jinja'")
                    .hasMessageContaining("chat templates may not load other templates");
        }
    }

    @Test
    void includeOfAClasspathResourceReadsNothing() {
        // a resource the classpath does have: the default Jinjava locator would read it
        ChatTemplate template = ChatTemplate.jinja("{% include 'org/peft4j/data/package-info.class' %}", null, null);
        assertThatThrownBy(() -> template.render(List.of(Message.user("q")), false))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("org/peft4j/data/package-info.class");
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void hugeRangeIsRefusedAsInTransformersSandbox() {
        // jinja2's sandbox (transformers renders with ImmutableSandboxedEnvironment) raises OverflowError here
        ChatTemplate template = ChatTemplate.jinja("{% for i in range(1000000000) %}x{% endfor %}", null, null);
        assertThatThrownBy(() -> template.render(List.of(Message.user("q")), false))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
    }

    @Test
    void rangeFollowsPython() {
        ChatTemplate template = ChatTemplate.jinja("{% for i in range(3) %}{{ i }},{% endfor %}|"
                + "{% for i in range(2, 5) %}{{ i }},{% endfor %}|{% for i in range(10, 0, -3) %}{{ i }},{% endfor %}|"
                + "{{ range(5, 1) | length }}|{{ range(100000) | length }}", null, null);
        assertThat(template.render(List.of(), false)).isEqualTo("0,1,2,|2,3,4,|10,7,4,1,|0|100000"); // jinja2 sandbox's output
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void runawayLoopWithoutOutputIsStoppedByTheIterationBound() {
        ChatTemplate template = ChatTemplate.jinja(
                "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", null, null);
        assertThatThrownBy(() -> template.render(List.of(Message.user("q")), false))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("runaway loop");
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void runawayOutputIsStoppedByTheOutputBound() {
        String loops = "{% for i in range(100000) %}{% for j in range(100) %}"
                + "{{ messages[0].content }}{% endfor %}{% endfor %}";
        ChatTemplate template = ChatTemplate.jinja(loops, null, null);
        assertThatThrownBy(() -> template.render(List.of(Message.user("x".repeat(10_000))), false))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("output");
    }

    private static List<String> countedRuns(TokenizedExample ex) {
        List<String> runs = new ArrayList<>();
        List<Long> run = new ArrayList<>();
        for (int i = 0; i <= ex.length(); i++) {
            boolean counted = i < ex.length() && ex.labels()[i] != SftTokenizer.IGNORE_INDEX;
            if (counted) {
                run.add(ex.inputIds()[i]);
            } else if (!run.isEmpty()) {
                runs.add(tokenizer.decode(run.stream().mapToLong(Long::longValue).toArray()));
                run.clear();
            }
        }
        return runs;
    }
}
