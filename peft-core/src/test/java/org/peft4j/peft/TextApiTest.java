package org.peft4j.peft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.Peft4jException;
import org.peft4j.data.AutoTokenizer;
import org.peft4j.data.ChatGLMTokenizer;
import org.peft4j.data.Message;
import org.peft4j.data.Tokenizer;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.testutil.Fixtures;

/**
 * The text API's pieces against transformers 5.23 (interop/fixtures/text-api, made by
 * interop/text_api_fixtures.py): apply_chat_template ids, decode with and without skip_special_tokens,
 * GenerationConfig.from_pretrained; and AutoPeftModelForCausalLM's errors for a bad base_model_name_or_path.
 */
class TextApiTest {
    private static final Path DIR = Fixtures.root().resolve("text-api");

    @Test
    void chatTemplateIdsAndDecodingMatchTransformers() throws IOException {
        JsonObject tokenizers = Fixtures.json(DIR.resolve("reference.json")).getAsJsonObject("tokenizers");
        Path repo = Fixtures.root().getParent().getParent();
        for (Map.Entry<String, JsonElement> e : tokenizers.entrySet()) {
            JsonObject ref = e.getValue().getAsJsonObject();
            Tokenizer tok = AutoTokenizer.load(repo.resolve(ref.get("path").getAsString()));
            try {
                List<Message> chat = new ArrayList<>();
                for (JsonElement m : ref.getAsJsonArray("chat")) {
                    chat.add(new Message(m.getAsJsonObject().get("role").getAsString(),
                            m.getAsJsonObject().get("content").getAsString()));
                }
                assertThat(tok.applyChatTemplate(chat, true)).as(e.getKey())
                        .containsExactly(ids(ref.getAsJsonArray("chat_ids")));
                for (JsonElement d : ref.getAsJsonArray("decode")) {
                    long[] ids = ids(d.getAsJsonObject().getAsJsonArray("ids"));
                    assertThat(tok.decode(ids, false)).as(e.getKey())
                            .isEqualTo(d.getAsJsonObject().get("text").getAsString());
                    assertThat(tok.decode(ids, true)).as(e.getKey())
                            .isEqualTo(d.getAsJsonObject().get("skip_special_tokens").getAsString());
                }
            } finally {
                AutoTokenizer.close(tok);
            }
        }
    }

    @Test
    void generationConfigMatchesTransformers() throws IOException {
        JsonObject configs = Fixtures.json(DIR.resolve("reference.json")).getAsJsonObject("generation_configs");
        for (Map.Entry<String, JsonElement> e : configs.entrySet()) {
            JsonObject ref = e.getValue().getAsJsonObject();
            GenerationConfig c = GenerationConfig.fromPretrained(DIR.resolve(e.getKey()));
            // transformers leaves unset fields None and applies its defaults at generate time
            assertThat(c.maxNewTokens()).as(e.getKey()).isEqualTo(orInt(ref, "max_new_tokens", 20));
            assertThat(c.doSample()).as(e.getKey())
                    .isEqualTo(!ref.get("do_sample").isJsonNull() && ref.get("do_sample").getAsBoolean());
            assertThat(c.temperature()).as(e.getKey()).isEqualTo(orDouble(ref, "temperature", 1.0));
            assertThat(c.topK()).as(e.getKey()).isEqualTo(orInt(ref, "top_k", 50));
            assertThat(c.topP()).as(e.getKey()).isEqualTo(orDouble(ref, "top_p", 1.0));
            List<Long> eos = new ArrayList<>();
            if (!ref.get("eos_token_id").isJsonNull()) {
                for (JsonElement x : ref.getAsJsonArray("eos_token_id")) {
                    eos.add(x.getAsLong());
                }
            }
            assertThat(c.eosTokenIds()).as(e.getKey()).isEqualTo(eos);
            assertThat(c.padTokenId()).as(e.getKey())
                    .isEqualTo(ref.get("pad_token_id").isJsonNull() ? null : ref.get("pad_token_id").getAsLong());
        }
    }

    @Test
    void badGenerationConfigValuesAreRefusedNamingFileAndField(@TempDir Path tmp) throws IOException {
        Map<String, String> bad = new java.util.LinkedHashMap<>(Map.of(
                "{\"temperature\": \"hot\"}", "temperature",
                "{\"do_sample\": true, \"temperature\": 0}", "temperature",
                "{\"eos_token_id\": [1, -2]}", "eos_token_id",
                "{\"max_new_tokens\": 2.5}", "max_new_tokens",
                "{\"do_sample\": true, \"top_p\": 1.5}", "top_p",
                "{\"do_sample\": \"yes\"}", "do_sample"));
        // large numbers are refused by name, never wrapped or saturated (issue 16)
        bad.put("{\"max_new_tokens\": 1e20}", "max_new_tokens");
        bad.put("{\"max_new_tokens\": 4294967296}", "max_new_tokens");
        bad.put("{\"do_sample\": true, \"top_k\": 4294967296}", "top_k");
        bad.put("{\"do_sample\": true, \"temperature\": 1e400}", "temperature");
        bad.put("{\"eos_token_id\": 18446744073709551616}", "eos_token_id");
        bad.put("{\"pad_token_id\": 9223372036854775808}", "pad_token_id");
        for (Map.Entry<String, String> e : bad.entrySet()) {
            Path file = tmp.resolve("generation_config.json");
            Files.writeString(file, e.getKey());
            assertThatThrownBy(() -> GenerationConfig.fromPretrained(tmp)).as(e.getKey())
                    .isInstanceOfSatisfying(org.peft4j.ConfigException.class, c -> {
                        assertThat(c.file()).isEqualTo(file);
                        assertThat(c.field()).isEqualTo(e.getValue());
                    })
                    .hasMessageContaining(file.toString()).hasMessageContaining("'" + e.getValue() + "'");
        }
        // greedy decoding ignores sampling settings (transformers only warns about them)
        Files.writeString(tmp.resolve("generation_config.json"), "{\"do_sample\": false, \"temperature\": 0.0}");
        assertThat(GenerationConfig.fromPretrained(tmp).doSample()).isFalse();
    }

    @Test
    void chatGlmChatTemplateIsItsBuildChatInput() {
        Path model = Fixtures.root().resolve("chatglm/model");
        ChatGLMTokenizer tok = (ChatGLMTokenizer) AutoTokenizer.load(model);
        long[] viaTemplate = tok.applyChatTemplate(List.of(Message.system("Be brief."), Message.user("Hi")), true);
        long[] viaBuild = tok.buildChatInput("Hi", List.of(new ChatGLMTokenizer.ChatMessage("system", "Be brief.")),
                "user");
        assertThat(viaTemplate).containsExactly(viaBuild);
        long assistant = tok.specialTokenId("<|assistant|>");
        // THUDM's tokenizer registers only eos / unk / pad as special tokens: skip_special_tokens keeps its command
        // tokens (interop/fixtures/chatglm/sft.json, checked by ChatGLMChatTest)
        assertThat(tok.decode(new long[] {assistant}, true)).isEqualTo("<|assistant|>");
        assertThat(tok.decode(new long[] {tok.eosTokenId(), assistant}, true)).isEqualTo("<|assistant|>");
    }

    @Test
    void missingOrRelativeBasePathIsAClearError(@TempDir Path tmp) throws IOException {
        for (String base : new String[] {null, "./relative/model", tmp.resolve("nowhere").toString()}) {
            Files.writeString(tmp.resolve("adapter_config.json"), "{\"peft_type\": \"LORA\", \"r\": 8, "
                    + "\"target_modules\": [\"q_proj\"], \"base_model_name_or_path\": "
                    + (base == null ? "null" : "\"" + base + "\"") + "}");
            assertThatThrownBy(() -> AutoPeftModelForCausalLM.fromPretrained(tmp)).as(String.valueOf(base))
                    .isInstanceOf(Peft4jException.class)
                    .hasMessageContaining(tmp.resolve("adapter_config.json").toString())
                    .hasMessageContaining("'base_model_name_or_path'");
        }
    }

    private static long[] ids(JsonArray a) {
        long[] out = new long[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsLong();
        }
        return out;
    }

    private static int orInt(JsonObject o, String k, int d) {
        return o.get(k).isJsonNull() ? d : o.get(k).getAsInt();
    }

    private static double orDouble(JsonObject o, String k, double d) {
        return o.get(k).isJsonNull() ? d : o.get(k).getAsDouble();
    }
}
