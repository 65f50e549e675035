package org.peft4j.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.testutil.Fixtures;

class TokenizerFilesTest {
    @TempDir
    Path dir;

    @Test
    void specialTokensFromSpecialTokensMapAndConfigJson() throws Exception {
        Files.copy(Fixtures.root().resolve("tokenizer").resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.writeString(dir.resolve("special_tokens_map.json"), "{\"bos_token\": {\"content\": \"<|begin_of_text|>\"}}");
        Files.writeString(dir.resolve("config.json"), "{\"eos_token_id\": 1}");
        try (HfTokenizer tok = HfTokenizer.load(dir.resolve("tokenizer.json"))) {
            assertThat(tok.bosTokenId()).isEqualTo(0L);
            assertThat(tok.eosTokenId()).isEqualTo(1L);
            assertThat(tok.padTokenId()).isNull();
            assertThat(tok.chatTemplate()).isNull();
            // no chat_template: transformers' apply_chat_template raises ValueError; no format is invented
            assertThatThrownBy(() -> ChatTemplate.forTokenizer(tok).render(List.of(Message.user("q")), true))
                    .isInstanceOf(org.peft4j.Peft4jException.class)
                    .hasMessageStartingWith("Cannot use chat template functions because tokenizer.chat_template is "
                            + "not set and no template argument was passed!");
            // data without chats does not need one
            TokenizedExample alpaca = SftTokenizer.of(tok, 100).tokenize(new InstructionRecord.Alpaca("a", "", "b"));
            assertThat(alpaca.countedTokens()).isPositive();
        }
    }

    @Test
    void aListOfEosIdsInConfigJsonGivesTheFirstAsEosAndAllAsStopIds() throws Exception {
        Files.copy(Fixtures.root().resolve("tokenizer").resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.writeString(dir.resolve("config.json"), "{\"eos_token_id\": [1, 2]}");
        Files.writeString(dir.resolve("generation_config.json"), "{\"eos_token_id\": [2, 5, 1]}");
        // a chat template that ends every turn with eos_token (without one, chat data raises as in transformers)
        JsonObject tc = new JsonObject();
        tc.addProperty("chat_template", "{% for m in messages %}<|{{ m.role }}|>\n{{ m.content }}{{ eos_token }}\n"
                + "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}");
        Files.writeString(dir.resolve("tokenizer_config.json"), tc.toString());
        try (HfTokenizer tok = HfTokenizer.load(dir)) {
            assertThat(tok.eosTokenId()).isEqualTo(1L);
            assertThat(tok.eosToken()).isEqualTo("<|end_of_text|>");
            assertThat(tok.eosTokenIds()).containsExactly(1L, 2L, 5L);
            // chat data: the template ends every turn with that eos, and the assistant's is counted
            SftTokenizer sft = SftTokenizer.of(tok, 100);
            TokenizedExample ex = sft.tokenize(new InstructionRecord.Chat(List.of(Message.user("q"),
                    Message.assistant("a"))));
            assertThat(tok.decode(ex.inputIds())).isEqualTo("<|user|>\nq<|end_of_text|>\n<|assistant|>\n"
                    + "a<|end_of_text|>\n");
            assertThat(HfTokenizerTestRuns.runs(tok, ex)).containsExactly("a<|end_of_text|>\n");
            // alpaca data ends with it; padding falls back to it
            TokenizedExample alpaca = sft.tokenize(new InstructionRecord.Alpaca("i", "", "o"));
            assertThat(alpaca.inputIds()[alpaca.length() - 1]).isEqualTo(1L);
            assertThat(PaddingCollator.forTokenizer(tok).collate(List.of(alpaca, ex)).inputIds()
                    .toLongArray()[2 * alpaca.length() - 1]).isEqualTo(1L);
        }
    }

    @Test
    void generationConfigListAloneAndTheTokenizersOwnEosFirst() throws Exception {
        Files.copy(Fixtures.root().resolve("tokenizer").resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.writeString(dir.resolve("generation_config.json"), "{\"eos_token_id\": [2, 1]}");
        try (HfTokenizer tok = HfTokenizer.load(dir)) {
            assertThat(tok.eosTokenId()).isEqualTo(2L);
            assertThat(tok.eosTokenIds()).containsExactly(2L, 1L);
        }
        Files.writeString(dir.resolve("special_tokens_map.json"), "{\"eos_token\": \"<|end_of_text|>\"}");
        try (HfTokenizer tok = HfTokenizer.load(dir)) {
            assertThat(tok.eosTokenId()).isEqualTo(1L);
            assertThat(tok.eosTokenIds()).containsExactly(1L, 2L);
        }
        assertThat(new ByteLevelTokenizer().eosTokenIds()).containsExactly((long) ByteLevelTokenizer.EOS);
    }

    @Test
    void missingTokenizerJsonIsNamed() {
        assertThatThrownBy(() -> HfTokenizer.load(dir)).hasMessageContaining("no tokenizer.json in " + dir);
    }

    @Test
    void templateThatIsNotPrefixStableIsRejected() {
        ChatTemplate unstable = (messages, gen) -> messages.size() + ":" + messages.stream()
                .map(Message::content).reduce("", String::concat);
        SftTokenizer sft = new SftTokenizer(new ByteLevelTokenizer(), unstable, AlpacaTemplate.STANFORD, 100);
        assertThatThrownBy(() -> sft.tokenize(new InstructionRecord.Chat(
                List.of(Message.user("q"), Message.assistant("a")))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("assistant turn 1");
    }
}
