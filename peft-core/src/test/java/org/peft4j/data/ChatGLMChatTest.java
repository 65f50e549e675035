package org.peft4j.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.peft4j.testutil.Fixtures;

/**
 * ChatGLM3's chat tokenisation against THUDM's tokenization_chatglm.py ({@code interop/make_chatglm_sft_fixtures.py}):
 * fine-tuning examples exactly as ChatGLM3's finetune_demo builds ids and labels (through {@link SftTokenizer}, as
 * {@code finetune} uses it), the generation prompt of {@code build_chat_input} ({@link
 * ChatGLMTokenizer#applyChatTemplate}), and {@code decode(ids, skip_special_tokens=True)}.
 */
class ChatGLMChatTest {
    static long[] longs(JsonElement e) {
        return java.util.stream.StreamSupport.stream(e.getAsJsonArray().spliterator(), false)
                .mapToLong(JsonElement::getAsLong).toArray();
    }

    static List<Message> messages(JsonElement e) {
        List<Message> out = new ArrayList<>();
        for (JsonElement m : e.getAsJsonArray()) {
            JsonObject o = m.getAsJsonObject();
            out.add(new Message(o.get("role").getAsString(), o.get("content").getAsString()));
        }
        return out;
    }

    static ChatGLMTokenizer tokenizer() {
        return ChatGLMTokenizer.load(Fixtures.root().resolve("chatglm/tokenizer/bpe.model"));
    }

    @Test
    void fineTuningExamplesAreChatGlm3Recipes() throws Exception {
        JsonObject f = Fixtures.json(Fixtures.root().resolve("chatglm/sft.json"));
        ChatGLMTokenizer tok = tokenizer();
        SftTokenizer sft = SftTokenizer.of(tok, 4096);
        int n = 0;
        for (JsonElement c : f.getAsJsonArray("cases")) {
            JsonObject o = c.getAsJsonObject();
            List<Message> msgs = messages(o.get("messages"));
            TokenizedExample e = sft.tokenize(new InstructionRecord.Chat(msgs));
            assertThat(e.inputIds()).containsExactly(longs(o.getAsJsonObject("finetune").get("input_ids")));
            assertThat(e.labels()).containsExactly(longs(o.getAsJsonObject("finetune").get("labels")));
            int k = o.get("chat_messages").getAsInt();
            assertThat(tok.applyChatTemplate(msgs.subList(0, k), true)).containsExactly(longs(o.get("chat")));
            assertThat(tok.decode(e.inputIds(), true)).isEqualTo(o.get("decoded").getAsString());
            n++;
        }
        assertThat(n).isEqualTo(4);
        // truncation on the right, as the recipe's [:max_length]
        TokenizedExample cut = SftTokenizer.of(tok, 5).tokenize(new InstructionRecord.Chat(
                messages(f.getAsJsonArray("cases").get(0).getAsJsonObject().get("messages"))));
        assertThat(cut.inputIds()).hasSize(5);
    }

    @Test
    void unknownRolesAreRefusedByName() {
        assertThatThrownBy(() -> tokenizer().applyChatTemplate(List.of(new Message("tool", "x")), true))
                .hasMessageContaining("'tool'");
    }
}
