package org.peft4j.data;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.testutil.Fixtures;

/**
 * The Java SentencePiece BPE tokenizer and ChatGLMTokenizer against Python sentencepiece 0.2.3 and THUDM's
 * tokenization_chatglm.py on 300 strings (Chinese, English, emoji, whitespace runs, tabs and newlines, code, unseen
 * characters through byte fallback), for two small BPE models trained by interop/make_chatglm_tokenizer_fixtures.py.
 */
class SentencePieceTokenizerTest {
    static Path dir() {
        return Fixtures.root().resolve("chatglm").resolve("tokenizer");
    }

    static JsonObject cases() throws Exception {
        return Fixtures.json(dir().resolve("cases.json"));
    }

    static long[] longs(JsonElement e) {
        JsonArray a = e.getAsJsonArray();
        long[] out = new long[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsLong();
        }
        return out;
    }

    static List<String> strings(JsonObject c) {
        List<String> out = new ArrayList<>();
        for (JsonElement e : c.getAsJsonArray("strings")) {
            out.add(e.getAsString());
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"bpe", "bpe-trim"})
    void idsPiecesAndDecodingMatchSentencepiece(String name) throws Exception {
        JsonObject c = cases();
        SentencePieceTokenizer tok = SentencePieceTokenizer.load(dir().resolve(name + ".model"));
        JsonObject want = c.getAsJsonObject(name);
        assertThat(tok.vocabSize()).isEqualTo(want.get("vocab_size").getAsInt());
        List<String> strings = strings(c);
        assertThat(strings).hasSize(300);
        for (int i = 0; i < strings.size(); i++) {
            long[] ids = tok.encode(strings.get(i), false); // sentencepiece's encode adds no bos
            assertThat(ids).as("ids of %s", strings.get(i)).containsExactly(longs(want.getAsJsonArray("ids").get(i)));
            assertThat(tok.decode(ids)).as("decode of %s", strings.get(i))
                    .isEqualTo(want.getAsJsonArray("decoded").get(i).getAsString());
        }
        JsonArray pieces = want.getAsJsonArray("pieces");
        for (int i = 0; i < pieces.size(); i++) {
            List<String> p = new ArrayList<>();
            pieces.get(i).getAsJsonArray().forEach(e -> p.add(e.getAsString()));
            assertThat(tok.encodeAsPieces(strings.get(i))).isEqualTo(p);
        }
    }

    @Test
    void modelFileSettingsAreRead() {
        SentencePieceModel m = SentencePieceModel.load(dir().resolve("bpe.model"));
        assertThat(m.modelType()).isEqualTo(SentencePieceModel.BPE);
        assertThat(m.byteFallback()).isTrue();
        assertThat(m.normalizerName()).isEqualTo("identity");
        assertThat(m.removeExtraWhitespaces()).isFalse();
        assertThat(SentencePieceModel.load(dir().resolve("bpe-trim.model")).removeExtraWhitespaces()).isTrue();
        assertThat(m.unkId()).isZero();
        assertThat(m.bosId()).isEqualTo(1);
        assertThat(m.eosId()).isEqualTo(2);
        assertThat(m.pieces().get(m.unkId()).type()).isEqualTo(SentencePieceModel.PieceType.UNKNOWN);
    }

    @Test
    void chatglmTokenizerMatchesPython() throws Exception {
        JsonObject c = cases();
        JsonObject want = c.getAsJsonObject("chatglm");
        ChatGLMTokenizer tok = ChatGLMTokenizer.load(dir().resolve("bpe.model"));
        assertThat(tok.vocabSize()).isEqualTo(want.get("vocab_size").getAsInt());
        assertThat(tok.eosTokenId()).isEqualTo(want.get("eos_token_id").getAsLong());
        assertThat(tok.padTokenId()).isEqualTo(want.get("pad_token_id").getAsLong());
        for (String t : ChatGLMTokenizer.SPECIAL_TOKENS) {
            assertThat(tok.specialTokenId(t)).isEqualTo(want.getAsJsonObject("special_tokens").get(t).getAsLong());
        }
        List<String> strings = strings(c);
        JsonArray with = want.getAsJsonArray("with_special");
        for (int i = 0; i < with.size(); i++) {
            assertThat(tok.encode(strings.get(i), true)).as(strings.get(i)).containsExactly(longs(with.get(i)));
        }
        for (JsonElement e : want.getAsJsonArray("decode")) {
            JsonArray pair = e.getAsJsonArray();
            assertThat(tok.decode(longs(pair.get(0)))).isEqualTo(pair.get(1).getAsString());
        }
        for (JsonElement e : want.getAsJsonArray("chat3")) {
            JsonObject o = e.getAsJsonObject();
            List<ChatGLMTokenizer.ChatMessage> history = new ArrayList<>();
            for (JsonElement h : o.getAsJsonArray("history")) {
                history.add(new ChatGLMTokenizer.ChatMessage(h.getAsJsonObject().get("role").getAsString(),
                        h.getAsJsonObject().get("content").getAsString()));
            }
            assertThat(tok.buildChatInput(o.get("query").getAsString(), history, "user"))
                    .containsExactly(longs(o.get("ids")));
        }
        for (JsonElement e : want.getAsJsonArray("chat2")) {
            JsonObject o = e.getAsJsonObject();
            List<String[]> history = new ArrayList<>();
            for (JsonElement h : o.getAsJsonArray("history")) {
                history.add(new String[] {h.getAsJsonArray().get(0).getAsString(),
                        h.getAsJsonArray().get(1).getAsString()});
            }
            String prompt = ChatGLMTokenizer.buildChatGlm2Prompt(o.get("query").getAsString(), history);
            assertThat(prompt).isEqualTo(o.get("prompt").getAsString());
            assertThat(tok.encode(prompt, true)).containsExactly(longs(o.get("ids")));
        }
    }

    @Test
    void autoTokenizerLoadsAFolderWithTokenizerModelAndNoTokenizerJson() throws Exception {
        Path folder = Fixtures.root().resolve("chatglm").resolve("model");
        assertThat(folder.resolve("tokenizer.json")).doesNotExist();
        Tokenizer tok = AutoTokenizer.load(folder);
        assertThat(tok).isInstanceOf(ChatGLMTokenizer.class);
        JsonObject want = cases().getAsJsonObject("chatglm");
        assertThat(tok.encode(strings(cases()).get(5), true))
                .containsExactly(longs(want.getAsJsonArray("with_special").get(5)));
        assertThat(AutoTokenizer.load(dir().resolve("bpe.model"))).isInstanceOf(SentencePieceTokenizer.class);
        assertThat(AutoTokenizer.load(Fixtures.root().resolve("tokenizer"))).isInstanceOf(HfTokenizer.class);
    }

    @Test
    void aNonSentencePieceFileIsRefusedNamingIt(@TempDir Path tmp) throws Exception {
        Path bad = tmp.resolve("tokenizer.model");
        Files.writeString(bad, "{\"not\": \"protobuf\"}");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> SentencePieceModel.load(bad))
                .isInstanceOf(org.peft4j.InvalidInputException.class).hasMessageContaining(bad.toString())
                .hasMessageContaining("not a SentencePiece model")
                .satisfies(e -> org.assertj.core.api.Assertions.assertThat(((org.peft4j.InvalidInputException) e).file())
                        .isEqualTo(bad));
    }
}
