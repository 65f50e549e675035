package org.peft4j.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.testutil.Fixtures;

/**
 * ChatGLM2's tokenizer mode against ChatGLM2-6B's rules over real sentencepiece
 * ({@code interop/make_chatglm2_chat_fixtures.py}): five command tokens (vocabulary = pieces + 5), the {@code [Round N]}
 * generation prompt of {@code build_prompt}, and the fine-tuning ids and labels of its {@code ptuning/main.py}
 * recipe (only the last answer and the eos scored) through {@link SftTokenizer}; a ChatGLM folder whose
 * {@code tokenization_chatglm.py} has no role tokens loads in this mode.
 */
class ChatGLM2ChatTest {
    static ChatGLMTokenizer tokenizer() {
        return new ChatGLMTokenizer(SentencePieceTokenizer.load(Fixtures.root().resolve("chatglm/tokenizer/bpe.model")),
                false);
    }

    @Test
    void promptsAndFineTuningExamplesAreChatGlm2s() throws Exception {
        JsonObject f = Fixtures.json(Fixtures.root().resolve("chatglm/chatglm2.json"));
        ChatGLMTokenizer tok = tokenizer();
        assertThat(tok.isChatGlm3()).isFalse();
        assertThat(tok.vocabSize()).isEqualTo(f.get("vocab_size").getAsInt());
        assertThat(tok.eosTokenIds()).containsExactly(tok.eosTokenId());
        SftTokenizer sft = SftTokenizer.of(tok, 4096);
        int n = 0;
        for (JsonElement c : f.getAsJsonArray("cases")) {
            JsonObject o = c.getAsJsonObject();
            List<Message> msgs = ChatGLMChatTest.messages(o.get("messages"));
            assertThat(tok.applyChatTemplate(msgs.subList(0, msgs.size() - 1), true))
                    .containsExactly(ChatGLMChatTest.longs(o.get("chat")));
            TokenizedExample e = sft.tokenize(new InstructionRecord.Chat(msgs));
            assertThat(e.inputIds()).containsExactly(ChatGLMChatTest.longs(o.getAsJsonObject("finetune").get("input_ids")));
            assertThat(e.labels()).containsExactly(ChatGLMChatTest.longs(o.getAsJsonObject("finetune").get("labels")));
            n++;
        }
        assertThat(n).isEqualTo(3);
        // ChatGLM2's convert_id_to_token gives "" for its command tokens; ChatGLM3 writes them
        long gmask = tok.specialTokenId("[gMASK]");
        assertThat(tok.decode(new long[] {gmask})).isEmpty();
        assertThat(ChatGLMChatTest.tokenizer().decode(new long[] {gmask})).isEqualTo("[gMASK]");
        assertThatThrownBy(() -> tok.specialTokenId("<|user|>")).hasMessageContaining("<|user|>");
        assertThatThrownBy(() -> tok.applyChatTemplate(List.of(Message.system("x"), Message.user("y")), true))
                .hasMessageContaining("role 'system'");
    }

    @Test
    void theRemoteCodeTellsChatGlm2FromChatGlm3(@TempDir Path tmp) throws Exception {
        Path src = Fixtures.root().resolve("chatglm/model");
        for (String v : new String[] {"2", "3"}) {
            Path d = Files.createDirectories(tmp.resolve("glm" + v));
            Files.copy(src.resolve("tokenizer.model"), d.resolve("tokenizer.model"));
            Files.copy(src.resolve("tokenizer_config.json"), d.resolve("tokenizer_config.json"));
            Files.writeString(d.resolve("tokenization_chatglm.py"), v.equals("3")
                    ? "special_tokens = [\"[MASK]\", \"[gMASK]\", \"[sMASK]\", \"sop\", \"eop\"]\n"
                            + "role_special_tokens = [\"<|system|>\", \"<|user|>\", \"<|assistant|>\", \"<|observation|>\"]\n"
                    : "special_tokens = [\"[MASK]\", \"[gMASK]\", \"[sMASK]\", \"sop\", \"eop\"]\n");
            Tokenizer t = AutoTokenizer.load(d);
            assertThat(((ChatGLMTokenizer) t).isChatGlm3()).as(v).isEqualTo(v.equals("3"));
        }
        // without the remote code: ChatGLM3 (the fixture folder)
        assertThat(((ChatGLMTokenizer) AutoTokenizer.load(src)).isChatGlm3()).isTrue();
    }
}
