package org.peft4j.prefix;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.peft4j.data.HfTokenizer;

/**
 * PEFT's TEXT init loads its tokenizer with {@code AutoTokenizer.from_pretrained(tokenizer_name_or_path,
 * **tokenizer_kwargs)} ({@code trust_remote_code} popped first, for security). What peft4j's {@link HfTokenizer} can
 * honour, as transformers 5.23 does:
 * <ul>
 * <li>{@code add_prefix_space}: a {@code GPT2Tokenizer} / {@code GPT2TokenizerFast} (its {@code tokenizer_class})
 * sets it on its ByteLevel pre-tokenizer, which changes the ids ("abc" gets a leading-space token); the generic
 * {@code TokenizersBackend} / {@code PreTrainedTokenizerFast} ignores it; other classes are refused;</li>
 * <li>{@code use_fast}: transformers 5 always runs the {@code tokenizer.json} backend, as peft4j: no effect;</li>
 * <li>{@code subfolder}: the tokenizer is read from that subfolder;</li>
 * <li>{@code local_files_only}: peft4j never downloads: no effect; {@code trust_remote_code}: dropped, as PEFT.</li>
 * </ul>
 * Any other field is refused, naming it. Thread-safe (stateless).
 */
final class TokenizerKwargs {
    static final List<String> SUPPORTED = List.of("add_prefix_space", "use_fast", "subfolder", "local_files_only",
            "trust_remote_code");
    private static final Set<String> PREFIX_SPACE_CLASSES = Set.of("GPT2Tokenizer", "GPT2TokenizerFast");
    private static final Set<String> IGNORING_CLASSES = Set.of("TokenizersBackend", "PreTrainedTokenizerFast");

    private TokenizerKwargs() {
    }

    /**
     * Checks {@code kwargs} (null = none) and loads the tokenizer at {@code nameOrPath} with them applied.
     *
     * @throws IllegalArgumentException naming a field peft4j cannot honour, or a value of the wrong type
     */
    static HfTokenizer load(String nameOrPath, JsonObject kwargs) {
        JsonObject kw = kwargs == null ? new JsonObject() : kwargs.deepCopy();
        kw.remove("trust_remote_code"); // PEFT: "security: disallow trust_remote_code"
        check(kw);
        Path folder = Path.of(nameOrPath);
        if (kw.has("subfolder") && !kw.get("subfolder").isJsonNull()) {
            folder = folder.resolve(string(kw, "subfolder"));
        }
        if (!kw.has("add_prefix_space") || kw.get("add_prefix_space").isJsonNull()) {
            return HfTokenizer.load(folder);
        }
        boolean prefixSpace = bool(kw, "add_prefix_space");
        String cls = tokenizerClass(folder);
        if (IGNORING_CLASSES.contains(cls)) {
            return HfTokenizer.load(folder);
        }
        if (!PREFIX_SPACE_CLASSES.contains(cls)) {
            throw new IllegalArgumentException("tokenizer_kwargs: 'add_prefix_space' is honoured for the tokenizer "
                    + "classes " + PREFIX_SPACE_CLASSES + " (and ignored by " + IGNORING_CLASSES + "), not for "
                    + "tokenizer_class " + cls + " of " + folder);
        }
        return withPrefixSpace(folder, prefixSpace);
    }

    /** Refuses fields outside {@link #SUPPORTED} and values of the wrong type. */
    static void check(JsonObject kw) {
        for (Map.Entry<String, JsonElement> e : kw.entrySet()) {
            if (!SUPPORTED.contains(e.getKey())) {
                throw new IllegalArgumentException("tokenizer_kwargs: field '" + e.getKey() + "' is not supported by "
                        + "peft4j's tokenizer loading (supported: " + SUPPORTED + ")");
            }
        }
        for (String k : List.of("add_prefix_space", "use_fast", "local_files_only")) {
            if (kw.has(k) && !kw.get(k).isJsonNull()) {
                bool(kw, k);
            }
        }
        if (kw.has("subfolder") && !kw.get("subfolder").isJsonNull()) {
            string(kw, "subfolder");
        }
    }

    private static boolean bool(JsonObject kw, String k) {
        JsonElement v = kw.get(k);
        if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isBoolean()) {
            throw new IllegalArgumentException("tokenizer_kwargs: field '" + k + "' must be true or false, got " + v);
        }
        return v.getAsBoolean();
    }

    private static String string(JsonObject kw, String k) {
        JsonElement v = kw.get(k);
        if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isString()) {
            throw new IllegalArgumentException("tokenizer_kwargs: field '" + k + "' must be a string, got " + v);
        }
        return v.getAsString();
    }

    /** {@code tokenizer_class} of {@code tokenizer_config.json} (transformers' default: TokenizersBackend). */
    private static String tokenizerClass(Path folder) {
        Path f = folder.resolve("tokenizer_config.json");
        if (!Files.isRegularFile(f)) {
            return "TokenizersBackend";
        }
        JsonObject j = read(f);
        return j.has("tokenizer_class") && !j.get("tokenizer_class").isJsonNull()
                ? j.get("tokenizer_class").getAsString() : "TokenizersBackend";
    }

    /** The tokenizer with every ByteLevel pre-tokenizer's {@code add_prefix_space} set, from a temporary copy. */
    private static HfTokenizer withPrefixSpace(Path folder, boolean prefixSpace) {
        JsonObject json = read(folder.resolve("tokenizer.json"));
        if (!setPrefixSpace(json.get("pre_tokenizer"), prefixSpace)) {
            throw new IllegalArgumentException("tokenizer_kwargs: 'add_prefix_space' needs a ByteLevel pre-tokenizer "
                    + "in " + folder.resolve("tokenizer.json"));
        }
        Path tmp = null;
        try {
            tmp = Files.createTempDirectory("peft4j-tokenizer");
            try (Stream<Path> files = Files.list(folder)) {
                for (Path p : (Iterable<Path>) files::iterator) {
                    if (Files.isRegularFile(p) && !p.getFileName().toString().equals("tokenizer.json")) {
                        Files.copy(p, tmp.resolve(p.getFileName()));
                    }
                }
            }
            Files.writeString(tmp.resolve("tokenizer.json"), json.toString(), StandardCharsets.UTF_8);
            return HfTokenizer.load(tmp);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            delete(tmp);
        }
    }

    private static boolean setPrefixSpace(JsonElement pre, boolean value) {
        if (pre == null || !pre.isJsonObject()) {
            return false;
        }
        JsonObject o = pre.getAsJsonObject();
        String type = o.has("type") ? o.get("type").getAsString() : "";
        if (type.equals("ByteLevel")) {
            o.addProperty("add_prefix_space", value);
            return true;
        }
        boolean any = false;
        if (type.equals("Sequence") && o.has("pretokenizers")) {
            for (JsonElement e : o.getAsJsonArray("pretokenizers")) {
                any |= setPrefixSpace(e, value);
            }
        }
        return any;
    }

    private static JsonObject read(Path f) {
        try {
            return JsonParser.parseString(Files.readString(f, StandardCharsets.UTF_8)).getAsJsonObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void delete(Path dir) {
        if (dir == null) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a temporary folder left behind is harmless
        }
    }
}
