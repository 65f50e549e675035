package org.peft4j.data;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.peft4j.internal.StrictGson;

/** Reads the JSON files next to a {@code tokenizer.json}: vocabulary, special tokens and chat template. */
final class TokenizerFiles {
    private TokenizerFiles() {}

    /** The folder holding {@code tokenizer.json}, given the folder or the file itself. */
    static Path folder(Path path) {
        return Files.isDirectory(path) ? path : path.toAbsolutePath().getParent();
    }

    /**
     * The JSON object of {@code file}, parsed strictly ({@link StrictGson}); null when there is no such file.
     *
     * @throws org.peft4j.FileAccessException naming the file when it is unreadable
     * @throws org.peft4j.InvalidInputException naming the file when it is not one strict JSON object
     */
    static JsonObject readObject(Path file) {
        if (!Files.isRegularFile(file)) {
            return null;
        }
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.of("read", file, e);
        }
        return StrictGson.parseObject(text, file.toString());
    }

    /** The declared error for a bad value: names the file and the field. */
    static org.peft4j.InvalidInputException invalid(Path file, String field, String problem) {
        return new org.peft4j.InvalidInputException(file + ": invalid '" + field + "': " + problem, file, field, null);
    }

    /** The largest token id accepted (ids are array indices on the JVM). */
    static final long MAX_TOKEN_ID = Integer.MAX_VALUE - 1L;

    /** {@code e} as a token id: an exact integer in {@code [0, MAX_TOKEN_ID]}. */
    static long tokenId(Path file, String field, JsonElement e) {
        if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            throw invalid(file, field, "expected a token id (an integer), got " + shorten(e));
        }
        String text = e.getAsJsonPrimitive().getAsString();
        try {
            java.math.BigDecimal d = new java.math.BigDecimal(text);
            if (d.scale() < -18 || d.precision() - d.scale() > 19) {
                throw new ArithmeticException();
            }
            long v = d.longValueExact();
            if (v < 0 || v > MAX_TOKEN_ID) {
                throw invalid(file, field, "token id " + text + " is out of range [0, " + MAX_TOKEN_ID + "]");
            }
            return v;
        } catch (ArithmeticException | NumberFormatException ex) {
            throw invalid(file, field, "expected a token id (an integer in [0, " + MAX_TOKEN_ID + "]), got "
                    + shorten(e));
        }
    }

    /** {@code e} as a string, else the declared error. */
    static String string(Path file, String field, JsonElement e) {
        if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            throw invalid(file, field, "expected a string, got " + shorten(e));
        }
        return e.getAsString();
    }

    private static String shorten(JsonElement e) {
        String s = String.valueOf(e);
        return s.length() <= 60 ? s : s.substring(0, 60) + "...";
    }

    /**
     * Token string to id, from the model vocabulary and the added tokens of tokenizer.json.
     *
     * @throws org.peft4j.InvalidInputException naming {@code file} and the field for a malformed entry
     */
    static Map<String, Long> vocabulary(JsonObject tokenizerJson, Path file) {
        Map<String, Long> vocab = new HashMap<>();
        JsonElement m = tokenizerJson.get("model");
        if (m != null && !m.isJsonNull() && !m.isJsonObject()) {
            throw invalid(file, "model", "expected an object, got " + shorten(m));
        }
        JsonObject model = m == null || m.isJsonNull() ? null : m.getAsJsonObject();
        if (model != null && model.has("vocab")) {
            JsonElement v = model.get("vocab");
            JsonElement type = model.get("type");
            boolean unigram = type != null && type.isJsonPrimitive() && "Unigram".equals(type.getAsString());
            if (v.isJsonNull() || unigram != v.isJsonArray()) {
                throw invalid(file, "model.vocab", "expected " + (unigram ? "a list of [piece, score]"
                        : "an object of token to id") + " for a " + (unigram ? "Unigram" : "non-Unigram")
                        + " model, got " + shorten(v));
            }
            if (v.isJsonObject()) {
                for (Map.Entry<String, JsonElement> en : v.getAsJsonObject().entrySet()) {
                    vocab.put(en.getKey(), tokenId(file, "model.vocab." + en.getKey(), en.getValue()));
                }
            } else if (v.isJsonArray()) { // Unigram: [[piece, score], ...]
                JsonArray pieces = v.getAsJsonArray();
                for (int i = 0; i < pieces.size(); i++) {
                    JsonElement piece = pieces.get(i);
                    String field = "model.vocab[" + i + "]";
                    if (!piece.isJsonArray() || piece.getAsJsonArray().size() != 2
                            || !piece.getAsJsonArray().get(1).isJsonPrimitive()
                            || !piece.getAsJsonArray().get(1).getAsJsonPrimitive().isNumber()) {
                        throw invalid(file, field, "expected [piece, score], got " + shorten(piece));
                    }
                    vocab.put(string(file, field, piece.getAsJsonArray().get(0)), (long) i);
                }
            }
            checkMerges(file, model, vocab);
        }
        JsonElement added = tokenizerJson.get("added_tokens");
        if (added != null) {
            if (!added.isJsonArray()) {
                throw invalid(file, "added_tokens", "expected a list, got " + shorten(added));
            }
            JsonArray list = added.getAsJsonArray();
            for (int i = 0; i < list.size(); i++) {
                String field = "added_tokens[" + i + "]";
                if (!list.get(i).isJsonObject()) {
                    throw invalid(file, field, "expected an object, got " + shorten(list.get(i)));
                }
                JsonObject o = list.get(i).getAsJsonObject();
                vocab.put(string(file, field + ".content", o.get("content")), tokenId(file, field + ".id", o.get("id")));
            }
        }
        return vocab;
    }

    /** A BPE model's merges: pairs of tokens of the vocabulary, as "a b" strings or [a, b] lists. */
    private static void checkMerges(Path file, JsonObject model, Map<String, Long> vocab) {
        JsonElement merges = model.get("merges");
        if (merges == null) {
            return;
        }
        if (!merges.isJsonArray()) {
            throw invalid(file, "model.merges", "expected a list, got " + shorten(merges));
        }
        JsonArray list = merges.getAsJsonArray();
        for (int i = 0; i < list.size(); i++) {
            String field = "model.merges[" + i + "]";
            JsonElement m = list.get(i);
            String[] pair;
            if (m.isJsonPrimitive() && m.getAsJsonPrimitive().isString()) {
                pair = m.getAsString().split(" ", -1);
            } else if (m.isJsonArray() && m.getAsJsonArray().size() == 2) {
                pair = new String[] {string(file, field + "[0]", m.getAsJsonArray().get(0)),
                    string(file, field + "[1]", m.getAsJsonArray().get(1))};
            } else {
                throw invalid(file, field, "expected \"a b\" or [a, b], got " + shorten(m));
            }
            if (pair.length != 2) {
                throw invalid(file, field, "expected two tokens separated by a space, got " + shorten(m));
            }
            for (String token : pair) {
                if (!vocab.containsKey(token)) {
                    throw invalid(file, field, "token '" + token + "' is not in model.vocab");
                }
            }
        }
    }

    /**
     * The text of special token {@code key} ("bos_token", "eos_token", "pad_token"), looked up in
     * tokenizer_config.json, then special_tokens_map.json; null when neither names it. The value is a string or
     * an added-token object with a string {@code content}.
     *
     * @throws org.peft4j.InvalidInputException naming the file and {@code key} for any other value
     */
    static String specialToken(Path folder, String key) {
        for (String name : new String[] {"tokenizer_config.json", "special_tokens_map.json"}) {
            Path file = folder.resolve(name);
            JsonObject o = readObject(file);
            if (o != null && o.has(key) && !o.get(key).isJsonNull()) {
                JsonElement e = o.get(key);
                return e.isJsonObject() ? string(file, key + ".content", e.getAsJsonObject().get("content"))
                        : string(file, key, e);
            }
        }
        return null;
    }

    /** See {@link HfTokenizer#segmentBoundaryIds()}; null when the files make it unsafe. */
    static Set<Long> segmentBoundaryIds(JsonObject tokenizerJson) {
        if (mentionsFirstOnlyPrepend(tokenizerJson.get("pre_tokenizer"))
                || mentionsFirstOnlyPrepend(tokenizerJson.get("normalizer"))) {
            return null;
        }
        JsonElement model = tokenizerJson.get("model");
        if (model != null && model.isJsonObject()) {
            JsonElement dropout = model.getAsJsonObject().get("dropout");
            if (dropout != null && !dropout.isJsonNull()
                    && !(dropout.isJsonPrimitive() && dropout.getAsJsonPrimitive().isNumber()
                            && dropout.getAsDouble() == 0.0)) {
                return null;
            }
        }
        Set<Long> ids = new java.util.HashSet<>();
        JsonElement added = tokenizerJson.get("added_tokens");
        if (added == null || !added.isJsonArray()) {
            return Set.of();
        }
        for (JsonElement t : added.getAsJsonArray()) {
            if (!t.isJsonObject()) {
                return null;
            }
            JsonObject o = t.getAsJsonObject();
            if (flag(o, "single_word") || flag(o, "lstrip") || flag(o, "rstrip")
                    || !(o.get("id") instanceof com.google.gson.JsonPrimitive id) || !id.isNumber()) {
                return null;
            }
            ids.add(id.getAsLong());
        }
        return Set.copyOf(ids);
    }

    private static boolean flag(JsonObject o, String key) {
        JsonElement e = o.get(key);
        return e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean() || e.getAsBoolean();
    }

    /** Whether a Metaspace (anywhere in a Sequence) prepends to the first piece only, or a legacy one may. */
    private static boolean mentionsFirstOnlyPrepend(JsonElement e) {
        if (e == null || e.isJsonNull()) {
            return false;
        }
        if (e.isJsonArray()) {
            for (JsonElement x : e.getAsJsonArray()) {
                if (mentionsFirstOnlyPrepend(x)) {
                    return true;
                }
            }
            return false;
        }
        if (!e.isJsonObject()) {
            return false;
        }
        JsonObject o = e.getAsJsonObject();
        JsonElement type = o.get("type");
        if (type != null && type.isJsonPrimitive() && "Metaspace".equals(type.getAsString())) {
            JsonElement scheme = o.get("prepend_scheme");
            return scheme == null || !scheme.isJsonPrimitive() || !"always".equals(scheme.getAsString())
                    && !"never".equals(scheme.getAsString());
        }
        for (Map.Entry<String, JsonElement> en : o.entrySet()) {
            if (mentionsFirstOnlyPrepend(en.getValue())) {
                return true;
            }
        }
        return false;
    }

    /**
     * The id of special token {@code key}: by its text when known, else {@code <key>_id} of config.json, else of
     * generation_config.json. A list of ids there (Llama 3's {@code "eos_token_id": [128001, 128008, 128009]}) gives
     * its first id.
     */
    static Long specialTokenId(Path folder, String key, Map<String, Long> vocab) {
        String text = specialToken(folder, key);
        if (text != null && vocab.containsKey(text)) {
            return vocab.get(text);
        }
        List<Long> ids = configIds(folder, key + "_id");
        return ids.isEmpty() ? null : ids.get(0);
    }

    /**
     * Every eos id, without repeats: the tokenizer's own ({@code eos}, may be null) first, then those of
     * config.json's and generation_config.json's {@code eos_token_id} (a number or a list).
     */
    static List<Long> eosTokenIds(Path folder, Long eos) {
        Set<Long> ids = new LinkedHashSet<>();
        if (eos != null) {
            ids.add(eos);
        }
        ids.addAll(configIds(folder, "eos_token_id"));
        return List.copyOf(ids);
    }

    /** The ids under {@code idKey} in config.json, then generation_config.json: a number or a list of numbers. */
    private static List<Long> configIds(Path folder, String idKey) {
        List<Long> ids = new ArrayList<>();
        for (String name : new String[] {"config.json", "generation_config.json"}) {
            Path file = folder.resolve(name);
            JsonObject o = readObject(file);
            JsonElement e = o == null ? null : o.get(idKey);
            if (e == null || e.isJsonNull()) {
                continue;
            }
            if (e.isJsonArray()) {
                JsonArray a = e.getAsJsonArray();
                for (int i = 0; i < a.size(); i++) {
                    ids.add(tokenId(file, idKey + "[" + i + "]", a.get(i)));
                }
            } else {
                ids.add(tokenId(file, idKey, e));
            }
        }
        return ids;
    }

    /** The file {@link #chatTemplate(Path)} reads the template from (for messages). */
    static Path chatTemplateFile(Path folder) {
        JsonObject o = readObject(folder.resolve("tokenizer_config.json"));
        return o != null && o.has("chat_template") ? folder.resolve("tokenizer_config.json")
                : folder.resolve("chat_template.jinja");
    }

    /**
     * The chat template of tokenizer_config.json (a string, or a list of {@code {"name", "template"}} objects of
     * which the one named "default" is used), else of chat_template.jinja; null when there is none.
     *
     * @throws org.peft4j.InvalidInputException naming the file and {@code chat_template} for a value of another shape
     */
    static String chatTemplate(Path folder) {
        Path file = folder.resolve("tokenizer_config.json");
        JsonObject o = readObject(file);
        if (o != null && o.has("chat_template") && !o.get("chat_template").isJsonNull()) {
            JsonElement e = o.get("chat_template");
            if (e.isJsonArray()) { // [{"name": "default", "template": ...}, ...]
                JsonArray list = e.getAsJsonArray();
                String found = null;
                for (int i = 0; i < list.size(); i++) {
                    String field = "chat_template[" + i + "]";
                    if (!list.get(i).isJsonObject()) {
                        throw invalid(file, field, "expected {\"name\": ..., \"template\": ...}, got "
                                + shorten(list.get(i)));
                    }
                    JsonObject t = list.get(i).getAsJsonObject();
                    String name = string(file, field + ".name", t.get("name"));
                    String template = string(file, field + ".template", t.get("template"));
                    if ("default".equals(name) && found == null) {
                        found = template;
                    }
                }
                return found;
            }
            return string(file, "chat_template", e);
        }
        Path jinja = folder.resolve("chat_template.jinja");
        if (Files.isRegularFile(jinja)) {
            try {
                return Files.readString(jinja, StandardCharsets.UTF_8);
            } catch (IOException ex) {
                throw org.peft4j.FileAccessException.of("read", jinja, ex);
            }
        }
        return null;
    }
}
