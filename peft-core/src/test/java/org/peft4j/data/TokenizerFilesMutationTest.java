package org.peft4j.data;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.testutil.ConfigMutator;
import org.peft4j.testutil.Fixtures;

/**
 * Feeds mutated copies of the JSON files next to a {@code tokenizer.json} ({@code tokenizer_config.json},
 * {@code special_tokens_map.json}, {@code config.json} / {@code generation_config.json} ids) and of
 * {@code tokenizer.json} itself to {@link HfTokenizer#load} and uses the result (chat template, special tokens,
 * chat tokenisation): the only outcomes allowed are a tokenizer or an {@link org.peft4j.InvalidInputException}
 * naming the file, and the field for a field mutation (issue 16: 733 of 2,000 mutated folders raised undeclared exceptions).
 */
class TokenizerFilesMutationTest {
    static final long SEED = 20261126L;
    static final int PER_FILE = 150;

    private static final String SPECIAL_TOKENS_MAP = "{\"bos_token\": {\"content\": \"<|begin_of_text|>\", "
            + "\"lstrip\": false, \"normalized\": false, \"rstrip\": false, \"single_word\": false}, "
            + "\"eos_token\": \"<|eot_id|>\", \"pad_token\": {\"content\": \"<|pad|>\"}, "
            + "\"additional_special_tokens\": [\"<|eot_id|>\"]}";
    private static final String GENERATION_CONFIG = "{\"bos_token_id\": 0, \"eos_token_id\": [1, 2], "
            + "\"pad_token_id\": 3, \"do_sample\": true, \"temperature\": 0.6}";
    private static final String CONFIG_LIST_TEMPLATE = "{\"bos_token\": \"<|begin_of_text|>\", \"eos_token\": "
            + "\"<|eot_id|>\", \"chat_template\": [{\"name\": \"default\", \"template\": \"{% for m in messages %}"
            + "{{ m['content'] }}<|eot_id|>{% endfor %}\"}, {\"name\": \"tool_use\", \"template\": \"x\"}]}";

    @Test
    void everyBadSideFileGivesTheDeclaredExceptionNamingFileAndField(@TempDir Path tmp) throws Exception {
        Path src = Fixtures.root().resolve("tokenizer");
        Path bases = Files.createDirectories(tmp.resolve("bases"));
        List<Path> files = List.of(src.resolve("tokenizer_config.json"),
                write(bases.resolve("special_tokens_map.json"), SPECIAL_TOKENS_MAP),
                write(bases.resolve("generation_config.json"), GENERATION_CONFIG),
                write(bases.resolve("list_template").resolve("tokenizer_config.json"), CONFIG_LIST_TEMPLATE));
        int declared = 0;
        for (Path base : files) {
            Path dir = Files.createDirectories(tmp.resolve("run-" + base.getParent().getFileName() + "-"
                    + base.getFileName()));
            Files.copy(src.resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
            ConfigMutator.Tally t = ConfigMutator.run(List.of(base), dir.resolve(base.getFileName().toString()),
                    SEED, PER_FILE, f -> use(dir), e -> e instanceof org.peft4j.InvalidInputException,
                    p -> p.getFileName().toString());
            t.print(base.getFileName().toString(), 40);
            assertThat(t.bad).as(base.toString()).isEmpty();
            declared += t.declared;
        }
        assertThat(declared).isGreaterThan(200);
    }

    @Test
    void everyBadTokenizerJsonGivesTheDeclaredExceptionNamingTheFile(@TempDir Path tmp) throws Exception {
        Path src = Fixtures.root().resolve("tokenizer");
        Path dir = Files.createDirectories(tmp.resolve("tok"));
        Files.copy(src.resolve("tokenizer_config.json"), dir.resolve("tokenizer_config.json"));
        Path file = dir.resolve("tokenizer.json");
        String base = Files.readString(src.resolve("tokenizer.json"), StandardCharsets.UTF_8);
        List<String> bad = new ArrayList<>();
        int declared = 0;
        int loaded = 0;
        for (ConfigMutator.Mutation m : ConfigMutator.mutations(base, SEED, 2000)) {
            // Only what Java reads before the native load: file-level damage (truncation, duplicate keys,
            // lenient-only syntax) and the fields peft4j reads itself. Bad values elsewhere (model, decoder, ...)
            // can still abort the JVM inside the native library (a Rust panic): issue 16 section 2, validation of
            // tokenizer.json before the native load, is where those are covered.
            if (!m.mustFail && !"added_tokens".equals(m.field) && !"model.vocab".equals(m.field)) {
                continue;
            }
            Files.writeString(file, m.text, StandardCharsets.UTF_8);
            try {
                use(dir);
                if (m.mustFail) {
                    bad.add(m + ": accepted");
                }
                loaded++;
            } catch (org.peft4j.InvalidInputException e) {
                String msg = String.valueOf(e.getMessage());
                if (!msg.contains(file.toString())) {
                    bad.add(m + ": message does not name the file: " + msg);
                } else if (m.field != null && (m.field.equals("added_tokens") || m.field.equals("model.vocab"))
                        && !msg.contains(m.field)) {
                    bad.add(m + ": message does not name the field: " + msg);
                } else {
                    declared++;
                }
            } catch (Exception | StackOverflowError e) {
                bad.add(m + ": undeclared " + e);
            }
        }
        System.out.println("tokenizer.json mutations: " + loaded + " loaded, " + declared + " declared; bad " + bad);
        assertThat(bad).isEmpty();
        assertThat(declared).isGreaterThan(300);
    }

    @Test
    void outOfRangeIdsAndWrongTypesAreNamed(@TempDir Path tmp) throws Exception {
        Path src = Fixtures.root().resolve("tokenizer");
        Files.copy(src.resolve("tokenizer.json"), tmp.resolve("tokenizer.json"));
        write(tmp.resolve("generation_config.json"), "{\"eos_token_id\": [1, 4294967296]}");
        assertThatLoadFails(tmp, "generation_config.json", "eos_token_id[1]", "out of range");
        write(tmp.resolve("generation_config.json"), "{\"eos_token_id\": 1e400}");
        assertThatLoadFails(tmp, "generation_config.json", "eos_token_id", "1e400");
        write(tmp.resolve("generation_config.json"), "{\"eos_token_id\": 1.5}");
        assertThatLoadFails(tmp, "generation_config.json", "eos_token_id", "1.5");
        Files.delete(tmp.resolve("generation_config.json"));
        write(tmp.resolve("special_tokens_map.json"), "{\"eos_token\": {\"content\": 7}}");
        assertThatLoadFails(tmp, "special_tokens_map.json", "eos_token.content", "expected a string");
        Files.delete(tmp.resolve("special_tokens_map.json"));
        write(tmp.resolve("tokenizer_config.json"), "{\"chat_template\": [{\"name\": \"default\"}]}");
        assertThatLoadFails(tmp, "tokenizer_config.json", "chat_template[0].template", "expected a string");
        write(tmp.resolve("tokenizer_config.json"), "{\"chat_template\": \"x\", \"chat_template\": \"y\"}");
        assertThatLoadFails(tmp, "tokenizer_config.json", "duplicate key 'chat_template'", "malformed JSON");
        String json = Files.readString(src.resolve("tokenizer.json"), StandardCharsets.UTF_8);
        Files.delete(tmp.resolve("tokenizer_config.json"));
        write(tmp.resolve("tokenizer.json"), json.replace("\"merges\": [", "\"merges\": [\"nosuch x\","));
        assertThatLoadFails(tmp, "tokenizer.json", "model.merges[0]", "'nosuch' is not in model.vocab");
        write(tmp.resolve("tokenizer.json"), json.replaceFirst("\"id\": 0,", "\"id\": -1,"));
        assertThatLoadFails(tmp, "tokenizer.json", "added_tokens[0].id", "expected an integer from 0 to 4294967295");
    }

    private static void assertThatLoadFails(Path dir, String file, String field, String problem) {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> HfTokenizer.load(dir).close())
                .isInstanceOf(org.peft4j.InvalidInputException.class)
                .hasMessageContaining(dir.resolve(file).toString())
                .hasMessageContaining(field)
                .hasMessageContaining(problem);
    }

    /** Loads the folder and uses what a trainer uses: special tokens, the chat template, chat tokenisation. */
    private static void use(Path dir) {
        try (HfTokenizer tok = HfTokenizer.load(dir)) {
            tok.eosTokenIds();
            tok.bosToken();
            tok.eosToken();
            if (tok.chatTemplate() != null) { // without one, chats raise transformers' ValueError by design
                SftTokenizer.of(tok, 64).tokenize(new InstructionRecord.Chat(List.of(Message.user("hi"),
                        Message.assistant("yo"))));
            }
        }
    }

    private static Path write(Path file, String text) throws Exception {
        Files.createDirectories(file.getParent());
        Files.writeString(file, text, StandardCharsets.UTF_8);
        return file;
    }
}
