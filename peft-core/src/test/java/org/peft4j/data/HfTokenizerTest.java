package org.peft4j.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonArray;
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
import org.peft4j.testutil.Fixtures;

/** The tiny byte-level BPE of interop/tokenizer_fixtures.py against transformers' outputs. */
class HfTokenizerTest {
    private static HfTokenizer tokenizer;
    private static JsonObject ref;

    @BeforeAll
    static void load() throws Exception {
        Path dir = Fixtures.root().resolve("tokenizer");
        tokenizer = HfTokenizer.load(dir);
        ref = JsonParser.parseString(Files.readString(dir.resolve("reference.json"), StandardCharsets.UTF_8))
                .getAsJsonObject();
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    static long[] longs(JsonArray a) {
        long[] out = new long[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsLong();
        }
        return out;
    }

    static List<Message> messages(JsonArray a) {
        List<Message> out = new ArrayList<>();
        for (JsonElement e : a) {
            out.add(new Message(e.getAsJsonObject().get("role").getAsString(),
                    e.getAsJsonObject().get("content").getAsString()));
        }
        return out;
    }

    @Test
    void specialTokensAndVocabulary() {
        assertThat(tokenizer.vocabSize()).isEqualTo(ref.get("vocab_size").getAsInt());
        assertThat(tokenizer.bosTokenId()).isEqualTo(ref.get("bos_token_id").getAsLong());
        assertThat(tokenizer.eosTokenId()).isEqualTo(ref.get("eos_token_id").getAsLong());
        assertThat(tokenizer.padTokenId()).isEqualTo(ref.get("pad_token_id").getAsLong());
        assertThat(tokenizer.bosToken()).isEqualTo("<|begin_of_text|>");
        assertThat(tokenizer.eosToken()).isEqualTo("<|eot_id|>");
    }

    @Test
    void encodingsMatchTransformers() {
        for (JsonElement e : ref.getAsJsonArray("encodings")) {
            JsonObject o = e.getAsJsonObject();
            String text = o.get("text").getAsString();
            long[] ids = longs(o.getAsJsonArray("ids"));
            assertThat(tokenizer.encode(text, false)).as(text).containsExactly(ids);
            // transformers' tokenizer.encode(text) adds the special tokens by default
            assertThat(tokenizer.encode(text)).as(text).containsExactly(longs(o.getAsJsonArray("ids_with_special")));
            assertThat(tokenizer.encode(text, true)).as(text).containsExactly(longs(o.getAsJsonArray("ids_with_special")));
            assertThat(tokenizer.encodeWithOffsets(text).ids()).as(text).containsExactly(ids);
            assertThat(tokenizer.decode(ids)).as(text).isEqualTo(o.get("decoded").getAsString());
        }
    }

    @Test
    void offsetsAreUtf16CharIndices() {
        String text = "你好 😀 ok";
        TokenizedText t = tokenizer.encodeWithOffsets(text);
        assertThat(t.charEnd()[t.charEnd().length - 1]).isEqualTo(text.length());
        for (int i = 0; i < t.ids().length; i++) {
            assertThat(t.charStart()[i]).isBetween(0, text.length());
            assertThat(t.charEnd()[i]).isBetween(t.charStart()[i], text.length());
        }
    }

    @Test
    void chatTemplateMatchesApplyChatTemplate() {
        ChatTemplate template = tokenizer.chatTemplate();
        assertThat(template).isNotNull();
        for (JsonElement e : ref.getAsJsonArray("chats")) {
            JsonObject o = e.getAsJsonObject();
            List<Message> chat = messages(o.getAsJsonArray("messages"));
            String rendered = template.render(chat, false);
            assertThat(rendered).isEqualTo(o.get("rendered").getAsString());
            assertThat(template.render(chat.subList(0, chat.size() - 1), true))
                    .isEqualTo(o.get("rendered_prefix_with_generation_prompt").getAsString());
            assertThat(tokenizer.encode(rendered, false)).containsExactly(longs(o.getAsJsonArray("ids")));
        }
    }

    @Test
    void chatmlTemplateWhitespaceControlLoopAndFiltersMatchTransformers() {
        JsonObject chatml = ref.getAsJsonObject("chatml");
        ChatTemplate template = ChatTemplate.jinja(chatml.get("template").getAsString(), null, null);
        for (JsonElement e : chatml.getAsJsonArray("renderings")) {
            JsonObject o = e.getAsJsonObject();
            assertThat(template.render(messages(o.getAsJsonArray("messages")),
                    o.get("add_generation_prompt").getAsBoolean())).isEqualTo(o.get("rendered").getAsString());
        }
    }

    @Test
    void chatmlLabelsCountTheAssistantTurns() {
        ChatTemplate chatml = ChatTemplate.jinja(ref.getAsJsonObject("chatml").get("template").getAsString(), null, null);
        SftTokenizer sft = new SftTokenizer(tokenizer, chatml, AlpacaTemplate.STANFORD, 4096);
        List<Message> chat = messages(ref.getAsJsonArray("chats").get(1).getAsJsonObject().getAsJsonArray("messages"));
        TokenizedExample ex = sft.tokenize(new InstructionRecord.Chat(chat));
        assertThat(countedRuns(ex)).containsExactly("Hi, how can I help?<|im_end|>", "Paris 🚀<|im_end|>");
    }

    @Test
    void raiseExceptionInTemplate() {
        ChatTemplate template = tokenizer.chatTemplate();
        assertThatThrownBy(() -> template.render(List.of(new Message("tool", "x")), false))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Unknown role: tool");
    }

    @Test
    void chatLabelsCountExactlyTheAssistantTurns() {
        SftTokenizer sft = SftTokenizer.of(tokenizer, 4096);
        for (JsonElement e : ref.getAsJsonArray("chats")) {
            JsonObject o = e.getAsJsonObject();
            List<Message> chat = messages(o.getAsJsonArray("messages"));
            TokenizedExample ex = sft.tokenize(new InstructionRecord.Chat(chat));
            assertThat(ex.inputIds()).containsExactly(longs(o.getAsJsonArray("ids")));
            List<String> counted = countedRuns(ex);
            List<String> expected = chat.stream().filter(Message::isAssistant)
                    .map(m -> m.content() + "<|eot_id|>").toList();
            assertThat(counted).isEqualTo(expected);
        }
    }

    @Test
    void alpacaLabelsCountOutputAndEos() {
        SftTokenizer sft = SftTokenizer.of(tokenizer, 4096);
        var record = new InstructionRecord.Alpaca("Give three tips.", "", "Eat well 你好");
        TokenizedExample ex = sft.tokenize(record);
        assertThat(ex.inputIds()[0]).isEqualTo(tokenizer.bosTokenId());
        assertThat(ex.inputIds()[ex.length() - 1]).isEqualTo(tokenizer.eosTokenId());
        assertThat(countedRuns(ex)).containsExactly("Eat well 你好<|eot_id|>");
        assertThat(tokenizer.decode(ex.inputIds())).isEqualTo("<|begin_of_text|>"
                + AlpacaTemplate.STANFORD.prompt(record) + "Eat well 你好<|eot_id|>");
    }

    @Test
    void aResponseStartsAtThePromptsTokenCountAsInTrl() {
        // "Say la" ends in the token " la", but in "Say lat x" the merges give " ", "l", "at": a merge crosses the
        // prompt/response boundary, so the prompt's tokens are not a prefix of the whole text's
        AlpacaTemplate template = new AlpacaTemplate("{instruction} la", "{instruction} la");
        SftTokenizer sft = new SftTokenizer(tokenizer, tokenizer.chatTemplate(), template, 4096);
        long[] prompt = tokenizer.encode("Say la", false);
        long[] text = tokenizer.encode("Say lat x", false);
        assertThat(java.util.Arrays.copyOf(text, prompt.length)).isNotEqualTo(prompt);
        TokenizedExample ex = sft.tokenize(new InstructionRecord.Alpaca("Say", "", "t x"));
        // TRL's completion mask: [bos] + text + [eos], counted from 1 + len(tokens of the prompt alone)
        long[] expected = new long[text.length + 2];
        java.util.Arrays.fill(expected, SftTokenizer.IGNORE_INDEX);
        for (int i = prompt.length; i < text.length; i++) {
            expected[1 + i] = text[i];
        }
        expected[text.length + 1] = tokenizer.eosTokenId();
        assertThat(ex.labels()).containsExactly(expected);
        assertThat(countedRuns(ex)).containsExactly("lat x<|eot_id|>");
        assertThat(sft.boundaryMismatches()).isEqualTo(1);
        // the usual case, a prompt ending in a newline: exact, no mismatch
        TokenizedExample clean = sft.tokenize(new InstructionRecord.Alpaca("Say", "", "\nok"));
        assertThat(countedRuns(clean)).containsExactly("\nok<|eot_id|>");
        SftTokenizer stanford = SftTokenizer.of(tokenizer, 4096);
        stanford.tokenize(new InstructionRecord.Alpaca("Give three tips.", "", "Eat well"));
        stanford.tokenize(new InstructionRecord.Chat(messages(ref.getAsJsonArray("chats").get(1).getAsJsonObject()
                .getAsJsonArray("messages"))));
        assertThat(stanford.boundaryMismatches()).isZero();
    }

    /** The decoded text of each maximal run of counted tokens. */
    static List<String> countedRuns(TokenizedExample ex) {
        List<String> runs = new ArrayList<>();
        List<Long> run = new ArrayList<>();
        for (int i = 0; i <= ex.length(); i++) {
            boolean counted = i < ex.length() && ex.labels()[i] != SftTokenizer.IGNORE_INDEX;
            if (counted) {
                assertThat(ex.labels()[i]).isEqualTo(ex.inputIds()[i]);
                run.add(ex.inputIds()[i]);
            } else if (!run.isEmpty()) {
                runs.add(tokenizerDecode(run));
                run.clear();
            }
        }
        return runs;
    }

    private static String tokenizerDecode(List<Long> ids) {
        return tokenizer.decode(ids.stream().mapToLong(Long::longValue).toArray());
    }
}
