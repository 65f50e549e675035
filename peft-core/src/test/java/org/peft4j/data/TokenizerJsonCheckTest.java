package org.peft4j.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.peft4j.testutil.Fixtures;

/**
 * tokenizer.json is checked in Java before the native tokenizers library sees it. The regression corpus
 * ({@code tokenizer-crashers/}, found by mutating the fixture tokenizer in child JVMs) holds files each of which
 * aborted the JVM (exit 134, a Rust panic) when handed to DJL unchecked; loading them in this JVM is only safe
 * because the check refuses them, naming the file and the field.
 */
class TokenizerJsonCheckTest {

    private static Path corpus(String name) throws URISyntaxException {
        return Path.of(TokenizerJsonCheckTest.class.getResource("tokenizer-crashers/" + name + "/tokenizer.json")
                .toURI()).getParent();
    }

    @ParameterizedTest
    @CsvSource({
        "precompiled-without-charsmap, normalizer.precompiled_charsmap",
        "precompiled-charsmap-not-a-string, normalizer.normalizers[1].precompiled_charsmap",
        "precompiled-charsmap-trie-too-long, normalizer.precompiled_charsmap",
        "template-special-token-not-defined, post_processor.single[0].SpecialToken.id",
        "strip-stop-past-token-start, decoder.decoders[1].stop",
        "strip-start-past-stop, decoder.decoders[1].stop",
        "strip-stop-u64-max, decoder.stop",
        "bpe-merge-shorter-than-subword-prefix, model.merges[0]",
    })
    void everyFileThatAbortedTheJvmIsAnExceptionNamingFileAndField(String name, String field) throws Exception {
        Path dir = corpus(name);
        assertThatThrownBy(() -> HfTokenizer.load(dir)).isInstanceOf(org.peft4j.InvalidInputException.class)
                .hasMessageContaining(dir.resolve("tokenizer.json").toString())
                .hasMessageContaining("`" + field + "`");
    }

    private static Path mutated(Path dir, Consumer<JsonObject> change) throws IOException {
        JsonObject json = JsonParser.parseString(Files.readString(Fixtures.root().resolve("tokenizer")
                .resolve("tokenizer.json"), StandardCharsets.UTF_8)).getAsJsonObject();
        change.accept(json);
        Files.writeString(dir.resolve("tokenizer.json"), json.toString(), StandardCharsets.UTF_8);
        return dir;
    }

    private static JsonObject obj(String json) {
        return JsonParser.parseString(json).getAsJsonObject();
    }

    @Test
    void theFixtureAndLlamaStyleComponentsPass(@TempDir Path dir) throws IOException {
        // Llama 2 / Mistral's decoder (Strip with stop 0) and normalizer, a Metaspace pre-tokenizer, padding
        Path d = mutated(dir, j -> {
            j.add("decoder", obj("{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":"
                    + "\"\u2581\"},\"content\":\" \"},{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},{\"type\":\"Strip\","
                    + "\"content\":\" \",\"start\":1,\"stop\":0}]}"));
            j.add("normalizer", obj("{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\u2581\"},"
                    + "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\u2581\"}]}"));
            j.add("padding", obj("{\"strategy\":{\"Fixed\":16},\"direction\":\"Left\",\"pad_to_multiple_of\":8,"
                    + "\"pad_id\":3,\"pad_type_id\":0,\"pad_token\":\"<|pad|>\"}"));
            j.add("truncation", obj("{\"direction\":\"Right\",\"max_length\":512,\"strategy\":\"LongestFirst\","
                    + "\"stride\":0}"));
        });
        try (HfTokenizer t = HfTokenizer.load(Fixtures.root().resolve("tokenizer"))) {
            assertThat(t.encode("hello world")).isNotEmpty();
        }
        try (HfTokenizer t = HfTokenizer.load(d)) {
            assertThat(t.decode(t.encode("a b"))).isNotNull();
        }
    }

    @ParameterizedTest
    @CsvSource(delimiter = ';', value = {
        "added_tokens[2].id;expected an integer from 0 to 4294967295, got 4294967296",
        "model.vocab.a;expected an integer from 0 to 4294967295, got -1",
        "decoder.type;unknown type \"Strip2\"",
        "pre_tokenizer.add_prefix_space;expected true or false, got 1",
        "padding.pad_to_multiple_of;must be at least 1 or null",
        "truncation.max_length;expected an integer from 0 to 2147483647, got 1.5",
        "model.dropout;must be between 0 and 1, got 2",
        "post_processor.special_tokens.<|begin_of_text|>;1 ids but 2 tokens",
    })
    void eachBadFieldIsNamed(String field, String message, @TempDir Path dir) throws IOException {
        Map<String, Consumer<JsonObject>> changes = Map.of(
                "added_tokens[2].id", j -> j.getAsJsonArray("added_tokens").get(2).getAsJsonObject()
                        .addProperty("id", 4294967296L),
                "model.vocab.a", j -> j.getAsJsonObject("model").getAsJsonObject("vocab").addProperty("a", -1),
                "decoder.type", j -> j.getAsJsonObject("decoder").addProperty("type", "Strip2"),
                "pre_tokenizer.add_prefix_space", j -> j.getAsJsonObject("pre_tokenizer")
                        .addProperty("add_prefix_space", 1),
                "padding.pad_to_multiple_of", j -> j.add("padding", obj("{\"strategy\":\"BatchLongest\","
                        + "\"pad_to_multiple_of\":0}")),
                "truncation.max_length", j -> j.add("truncation", obj("{\"max_length\":1.5}")),
                "model.dropout", j -> j.getAsJsonObject("model").addProperty("dropout", 2),
                "post_processor.special_tokens.<|begin_of_text|>", j -> {
                    JsonArray tokens = j.getAsJsonObject("post_processor").getAsJsonObject("special_tokens")
                            .getAsJsonObject("<|begin_of_text|>").getAsJsonArray("tokens");
                    tokens.add("x");
                });
        Path d = mutated(dir, changes.get(field));
        assertThatThrownBy(() -> HfTokenizer.load(d)).isInstanceOf(org.peft4j.InvalidInputException.class)
                .hasMessageContaining(d.resolve("tokenizer.json").toString())
                .hasMessageContaining("`" + field + "`: " + message);
    }
}
