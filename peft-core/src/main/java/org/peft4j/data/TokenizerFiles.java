package org.peft4j.data;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Reads the JSON files next to a {@code tokenizer.json}: vocabulary, special tokens and chat template. */
final class TokenizerFiles {
    private TokenizerFiles() {}

    /** The folder holding {@code tokenizer.json}, given the folder or the file itself. */
    static Path folder(Path path) {
        return Files.isDirectory(path) ? path : path.toAbsolutePath().getParent();
    }

    static JsonObject readObject(Path file) {
        if (!Files.isRegularFile(file)) {
            return null;
        }
        try {
            JsonElement e = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8));
            return e.isJsonObject() ? e.getAsJsonObject() : null;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("invalid JSON in " + file + ": " + e.getMessage(), e);
        }
    }

    /** Token string to id, from the model vocabulary and the added tokens of tokenizer.json. */
    static Map<String, Long> vocabulary(JsonObject tokenizerJson) {
        Map<String, Long> vocab = new HashMap<>();
        JsonObject model = tokenizerJson.has("model") ? tokenizerJson.getAsJsonObject("model") : null;
        if (model != null && model.has("vocab")) {
            JsonElement v = model.get("vocab");
            if (v.isJsonObject()) {
                v.getAsJsonObject().entrySet().forEach(en -> vocab.put(en.getKey(), en.getValue().getAsLong()));
            } else if (v.isJsonArray()) { // Unigram: [[piece, score], ...]
                for (int i = 0; i < v.getAsJsonArray().size(); i++) {
                    vocab.put(v.getAsJsonArray().get(i).getAsJsonArray().get(0).getAsString(), (long) i);
                }
            }
        }
        if (tokenizerJson.has("added_tokens")) {
            for (JsonElement t : tokenizerJson.getAsJsonArray("added_tokens")) {
                JsonObject o = t.getAsJsonObject();
                vocab.put(o.get("content").getAsString(), o.get("id").getAsLong());
            }
        }
        return vocab;
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
     * The text of special token {@code key} ("bos_token", "eos_token", "pad_token"), looked up in
     * tokenizer_config.json, then special_tokens_map.json; null when neither names it.
     */
    static String specialToken(Path folder, String key) {
        for (String name : new String[] {"tokenizer_config.json", "special_tokens_map.json"}) {
            JsonObject o = readObject(folder.resolve(name));
            if (o != null && o.has(key) && !o.get(key).isJsonNull()) {
                JsonElement e = o.get(key);
                return e.isJsonObject() ? e.getAsJsonObject().get("content").getAsString() : e.getAsString();
            }
        }
        return null;
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
            JsonObject o = readObject(folder.resolve(name));
            JsonElement e = o == null ? null : o.get(idKey);
            if (e == null || e.isJsonNull()) {
                continue;
            }
            if (e.isJsonPrimitive()) {
                ids.add(e.getAsLong());
            } else if (e.isJsonArray()) {
                for (JsonElement x : e.getAsJsonArray()) {
                    ids.add(x.getAsLong());
                }
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

    /** The chat template of tokenizer_config.json, else of chat_template.jinja; null when there is none. */
    static String chatTemplate(Path folder) {
        JsonObject o = readObject(folder.resolve("tokenizer_config.json"));
        if (o != null && o.has("chat_template")) {
            JsonElement e = o.get("chat_template");
            if (e.isJsonPrimitive()) {
                return e.getAsString();
            }
            if (e.isJsonArray()) { // [{"name": "default", "template": ...}, ...]
                for (JsonElement t : e.getAsJsonArray()) {
                    if ("default".equals(t.getAsJsonObject().get("name").getAsString())) {
                        return t.getAsJsonObject().get("template").getAsString();
                    }
                }
            }
        }
        Path jinja = folder.resolve("chat_template.jinja");
        if (Files.isRegularFile(jinja)) {
            try {
                return Files.readString(jinja, StandardCharsets.UTF_8);
            } catch (IOException ex) {
                throw new UncheckedIOException("cannot read " + jinja, ex);
            }
        }
        return null;
    }
}
