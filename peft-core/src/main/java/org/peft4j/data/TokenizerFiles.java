package org.peft4j.data;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

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

    /** The id of special token {@code key}: by its text when known, else config.json's {@code <key>_id}. */
    static Long specialTokenId(Path folder, String key, Map<String, Long> vocab) {
        String text = specialToken(folder, key);
        if (text != null && vocab.containsKey(text)) {
            return vocab.get(text);
        }
        JsonObject config = readObject(folder.resolve("config.json"));
        String idKey = key + "_id";
        if (config != null && config.has(idKey) && config.get(idKey).isJsonPrimitive()) {
            return config.get(idKey).getAsLong(); // a list of eos ids (Llama 3) is not a single id
        }
        return null;
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
