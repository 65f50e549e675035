package org.peft4j.models;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A Hugging Face {@code config.json}, kept as JSON (so unknown fields survive a save) with typed getters whose
 * errors name the file, the field and what was expected.
 */
public final class ModelConfig {
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();

    private final JsonObject json;
    private final String source;

    public ModelConfig(JsonObject json, String source) {
        this.json = json.deepCopy();
        this.source = source;
    }

    /**
     * Reads a config.json.
     *
     * @throws IOException if the file cannot be read or is not a JSON object
     */
    public static ModelConfig load(Path file) throws IOException {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new java.nio.file.NoSuchFileException(file.toString(), null,
                    "no config.json: expected a Hugging Face model folder");
        }
        try {
            JsonElement e = JsonParser.parseString(text);
            if (!e.isJsonObject()) {
                throw new IOException(file + ": expected a JSON object");
            }
            return new ModelConfig(e.getAsJsonObject(), file.toString());
        } catch (JsonParseException e) {
            throw new IOException(file + ": malformed JSON: " + e.getMessage(), e);
        }
    }

    /** Parses a config from a JSON string. */
    public static ModelConfig parse(String json) {
        return new ModelConfig(JsonParser.parseString(json).getAsJsonObject(), "<string>");
    }

    /** A copy of the JSON. */
    public JsonObject json() {
        return json.deepCopy();
    }

    /** Where this config came from (a path, for error messages). */
    public String source() {
        return source;
    }

    public String toJson() {
        return GSON.toJson(json);
    }

    public boolean has(String key) {
        return json.has(key) && !json.get(key).isJsonNull();
    }

    /** {@code model_type}; required. */
    public String modelType() {
        return getString("model_type");
    }

    public String getString(String key) {
        JsonElement e = require(key);
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            throw bad(key, "a string", e);
        }
        return e.getAsString();
    }

    public String getString(String key, String dflt) {
        return has(key) ? getString(key) : dflt;
    }

    public long getLong(String key) {
        JsonElement e = require(key);
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            throw bad(key, "an integer", e);
        }
        double d = e.getAsDouble();
        if (d != Math.rint(d)) {
            throw bad(key, "an integer", e);
        }
        return e.getAsLong();
    }

    public long getLong(String key, long dflt) {
        return has(key) ? getLong(key) : dflt;
    }

    public int getInt(String key) {
        return Math.toIntExact(getLong(key));
    }

    public int getInt(String key, int dflt) {
        return has(key) ? getInt(key) : dflt;
    }

    public double getDouble(String key) {
        JsonElement e = require(key);
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            throw bad(key, "a number", e);
        }
        return e.getAsDouble();
    }

    public double getDouble(String key, double dflt) {
        return has(key) ? getDouble(key) : dflt;
    }

    public boolean getBoolean(String key, boolean dflt) {
        if (!has(key)) {
            return dflt;
        }
        JsonElement e = json.get(key);
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
            throw bad(key, "true or false", e);
        }
        return e.getAsBoolean();
    }

    /** A nested object, or null. */
    public JsonObject getObject(String key) {
        if (!has(key)) {
            return null;
        }
        JsonElement e = json.get(key);
        if (!e.isJsonObject()) {
            throw bad(key, "an object", e);
        }
        return e.getAsJsonObject();
    }

    /** Whether the key is present at all, a JSON null included (as Python's {@code key in config_dict}). */
    public boolean containsKey(String key) {
        return json.has(key);
    }

    /** A list of strings, or null if absent or null. */
    public List<String> getStrings(String key) {
        if (!has(key)) {
            return null;
        }
        JsonElement e = json.get(key);
        if (!e.isJsonArray()) {
            throw bad(key, "a list of strings", e);
        }
        List<String> out = new ArrayList<>();
        for (JsonElement x : (JsonArray) e) {
            if (!x.isJsonPrimitive() || !x.getAsJsonPrimitive().isString()) {
                throw bad(key, "a list of strings", e);
            }
            out.add(x.getAsString());
        }
        return out;
    }

    /** An integer or a list of integers (e.g. {@code eos_token_id}); empty if absent. */
    public List<Long> getLongs(String key) {
        List<Long> out = new ArrayList<>();
        if (!has(key)) {
            return out;
        }
        JsonElement e = json.get(key);
        if (e.isJsonArray()) {
            for (JsonElement x : (JsonArray) e) {
                out.add(x.getAsLong());
            }
        } else {
            out.add(getLong(key));
        }
        return out;
    }

    private JsonElement require(String key) {
        if (!has(key)) {
            throw new IllegalArgumentException(source + ": missing field '" + key + "'");
        }
        return json.get(key);
    }

    private IllegalArgumentException bad(String key, String expected, JsonElement got) {
        return new IllegalArgumentException(source + ": field '" + key + "' should be " + expected + ", got " + got);
    }
}
