package org.peft4j.models;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.peft4j.internal.PlainJson;
import org.peft4j.internal.StrictGson;

/**
 * A Hugging Face {@code config.json}, kept as JSON (so unknown fields survive a save) with typed getters whose
 * errors name the file, the field and what was expected.
 *
 * <p>Error contract: {@link #load} throws {@link org.peft4j.FileAccessException} naming the file when it cannot be
 * read, and {@link org.peft4j.ConfigException} when it is not exactly one strict JSON object (comments, NaN,
 * trailing text and duplicate keys are refused); the getters, and the
 * model configs built on them, throw {@link IllegalArgumentException} naming the file and the field when a value has
 * the wrong JSON type or is out of range. Numbers are never wrapped or saturated: {@code 4294967296} or {@code 1e400}
 * for an int field is refused by name.
 */
public final class ModelConfig {
    /** As transformers writes config.json: indented, nulls kept (e.g. {@code "pad_token_id": null}). */
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().serializeNulls()
            .create();

    private final JsonObject json;
    private final String source;

    /** A config from parsed JSON (copied); {@code source} names it in error messages (a path). */
    ModelConfig(JsonObject json, String source) {
        this.json = json.deepCopy();
        this.source = source;
    }

    /**
     * Reads a config.json.
     *
     * @throws org.peft4j.FileAccessException if the file cannot be read (a missing one: "no config.json: expected a
     *     Hugging Face model folder")
     * @throws org.peft4j.ConfigException if it is not one strict JSON object
     */
    public static ModelConfig load(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (java.nio.file.NoSuchFileException e) {
            throw org.peft4j.FileAccessException.of("read", file, new java.nio.file.NoSuchFileException(
                    file.toString(), null, "no config.json: expected a Hugging Face model folder"));
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.of("read", file, e);
        }
        return new ModelConfig(StrictGson.parseObject(text, file.toString()), file.toString());
    }

    /**
     * Parses a config from a JSON string (source {@code <string>}).
     *
     * @throws org.peft4j.ConfigException if the text is not one strict JSON object
     */
    public static ModelConfig parse(String json) {
        return new ModelConfig(StrictGson.parseObject(json, "<string>"), "<string>");
    }

    /**
     * Parses a config from JSON text.
     *
     * @param json the text of one JSON object
     * @param source where it came from, named in error messages (a path)
     * @return the config
     * @throws org.peft4j.ConfigException naming {@code source} if the text is not one strict JSON object
     */
    public static ModelConfig parse(String json, String source) {
        return new ModelConfig(StrictGson.parseObject(json, source), source);
    }

    /**
     * A config from its fields as plain Java values (transformers' {@code PretrainedConfig.from_dict}): strings,
     * numbers, booleans, lists, maps and nulls, e.g. {@link #toDict()} with a field changed.
     *
     * @param fields the fields (copied)
     * @param source where they came from, named in error messages
     * @return the config
     */
    public static ModelConfig fromDict(Map<String, ?> fields, String source) {
        return new ModelConfig(PlainJson.toTree(fields).getAsJsonObject(), source);
    }

    /**
     * All fields as plain Java values (transformers' {@code to_dict()}), in file order: a {@code Map<String, Object>}
     * for an object, a {@code List<Object>} for an array, {@link String}, {@link Boolean}, {@link Number}
     * ({@link Integer}, {@link Long} or {@link java.math.BigInteger} for an integer, {@link Double} otherwise, a
     * {@link BigDecimal} beyond the double range) and null.
     *
     * @return a fresh copy
     */
    public Map<String, Object> toDict() {
        return PlainJson.toPlainMap(json);
    }

    /** A copy of the JSON tree, for this package. */
    JsonObject tree() {
        return json.deepCopy();
    }

    /** Where this config came from (a path, for error messages). */
    public String source() {
        return source;
    }

    /** The config as config.json text, with its null fields kept, as transformers writes them. */
    public String toJson() {
        return GSON.toJson(json);
    }

    /**
     * Whether a field is present and not null.
     *
     * @param key the JSON key
     * @return true when set
     */
    public boolean has(String key) {
        return json.has(key) && !json.get(key).isJsonNull();
    }

    /** {@code model_type}; required. */
    public String modelType() {
        return getString("model_type");
    }

    /**
     * A string field.
     *
     * @param key the JSON key
     * @return the value
     * @throws IllegalArgumentException naming the field if it is missing or not a string
     */
    public String getString(String key) {
        JsonElement e = require(key);
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            throw bad(key, "a string", e);
        }
        return e.getAsString();
    }

    /**
     * A string field with a default.
     *
     * @param key the JSON key
     * @param dflt the value when the field is absent or null
     * @return the value
     * @throws IllegalArgumentException naming the field if it is not a string
     */
    public String getString(String key, String dflt) {
        return has(key) ? getString(key) : dflt;
    }

    /**
     * An integer field.
     *
     * @throws IllegalArgumentException naming the field if it is missing, not an integer, or outside the long range
     */
    public long getLong(String key) {
        return getLong(key, Long.MIN_VALUE, Long.MAX_VALUE);
    }

    /**
     * An integer field with a default.
     *
     * @param key the JSON key
     * @param dflt the value when the field is absent or null
     * @return the value
     * @throws IllegalArgumentException naming the field if it is not an integer
     */
    public long getLong(String key, long dflt) {
        return has(key) ? getLong(key) : dflt;
    }

    /**
     * An integer field in {@code [min, max]}.
     *
     * @throws IllegalArgumentException naming the field if it is missing, not an integer, or out of range
     */
    public long getLong(String key, long min, long max) {
        return exactLong(key, require(key), min, max);
    }

    /** An integer field in {@code [min, max]}, or {@code dflt} when absent or null. */
    public long getLong(String key, long dflt, long min, long max) {
        return has(key) ? getLong(key, min, max) : dflt;
    }

    /**
     * An integer field that fits an int.
     *
     * @throws IllegalArgumentException naming the field if it is missing, not an integer, or outside the int range
     */
    public int getInt(String key) {
        return getInt(key, Integer.MIN_VALUE, Integer.MAX_VALUE);
    }

    /**
     * An int field with a default.
     *
     * @param key the JSON key
     * @param dflt the value when the field is absent or null
     * @return the value
     * @throws IllegalArgumentException naming the field if it is not an integer in the int range
     */
    public int getInt(String key, int dflt) {
        return has(key) ? getInt(key) : dflt;
    }

    /**
     * An integer field in {@code [min, max]}.
     *
     * @throws IllegalArgumentException naming the field if it is missing, not an integer, or out of range
     */
    public int getInt(String key, int min, int max) {
        return (int) getLong(key, (long) min, (long) max);
    }

    /** An integer field in {@code [min, max]}, or {@code dflt} when absent or null. */
    public int getInt(String key, int dflt, int min, int max) {
        return has(key) ? getInt(key, min, max) : dflt;
    }

    /**
     * A finite number.
     *
     * @throws IllegalArgumentException naming the field if it is missing, not a number, or not finite (1e400)
     */
    public double getDouble(String key) {
        return finite(key, require(key));
    }

    /**
     * A number field with a default.
     *
     * @param key the JSON key
     * @param dflt the value when the field is absent or null
     * @return the value
     * @throws IllegalArgumentException naming the field if it is not a finite number
     */
    public double getDouble(String key, double dflt) {
        return has(key) ? getDouble(key) : dflt;
    }

    /** A finite number in {@code [min, max]}, or {@code dflt} when absent or null. */
    public double getDouble(String key, double dflt, double min, double max) {
        double d = getDouble(key, dflt);
        if (!(d >= min && d <= max)) {
            throw bad(key, "a number in [" + min + ", " + max + "]", json.get(key));
        }
        return d;
    }

    private long exactLong(String key, JsonElement e, long min, long max) {
        String expected = min == Long.MIN_VALUE && max == Long.MAX_VALUE ? "an integer"
                : "an integer in [" + min + ", " + max + "]";
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            throw bad(key, expected, e);
        }
        BigDecimal d = decimal(key, e.getAsJsonPrimitive(), expected);
        if (d.signum() != 0 && d.stripTrailingZeros().scale() > 0) {
            throw bad(key, expected, e);
        }
        if (d.compareTo(BigDecimal.valueOf(min)) < 0 || d.compareTo(BigDecimal.valueOf(max)) > 0) {
            throw bad(key, expected, e);
        }
        return d.longValueExact();
    }

    private double finite(String key, JsonElement e) {
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            throw bad(key, "a number", e);
        }
        double d = e.getAsDouble();
        if (!Double.isFinite(d)) {
            throw bad(key, "a finite number", e);
        }
        return d;
    }

    private BigDecimal decimal(String key, JsonPrimitive p, String expected) {
        String text = p.getAsString();
        // exponents beyond any long are refused before BigDecimal would have to expand them
        if (text.length() > 40 || text.matches(".*[eE][+]?\\d{3,}.*")) {
            throw bad(key, expected, p);
        }
        try {
            return new BigDecimal(text);
        } catch (NumberFormatException | ArithmeticException ex) {
            throw bad(key, expected, p);
        }
    }

    /**
     * A boolean field with a default.
     *
     * @param key the JSON key
     * @param dflt the value when the field is absent or null
     * @return the value
     * @throws IllegalArgumentException naming the field if it is not a boolean
     */
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

    /**
     * A nested object as plain Java values (as {@link #toDict()}), or null when absent or null.
     *
     * @param key the JSON key
     * @return a fresh copy, in file order
     * @throws IllegalArgumentException naming the field if it is not an object
     */
    public Map<String, Object> getMap(String key) {
        if (!has(key)) {
            return null;
        }
        JsonElement e = json.get(key);
        if (!e.isJsonObject()) {
            throw bad(key, "an object", e);
        }
        return PlainJson.toPlainMap(e.getAsJsonObject());
    }

    /**
     * A field as a plain Java value (as {@link #toDict()}), or null when absent or null.
     *
     * @param key the JSON key
     * @return a fresh copy
     */
    public Object get(String key) {
        return has(key) ? PlainJson.toPlain(json.get(key)) : null;
    }

    /**
     * A field's JSON text, compact, with numbers as written in the file ({@code 1e-05} stays {@code 1e-05}), or null
     * when absent or null.
     *
     * @param key the JSON key
     * @return the text, or null
     */
    public String getJson(String key) {
        return has(key) ? json.get(key).toString() : null;
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
                out.add(exactLong(key, x, Long.MIN_VALUE, Long.MAX_VALUE));
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

    /**
     * An error naming this config's file and {@code key} (which may be dotted, {@code rope_parameters.factor}).
     */
    public IllegalArgumentException error(String key, String expected, Object got) {
        return new IllegalArgumentException(source + ": field '" + key + "' should be " + expected + ", got " + got);
    }

    private IllegalArgumentException bad(String key, String expected, JsonElement got) {
        return new IllegalArgumentException(source + ": field '" + key + "' should be " + expected + ", got " + got);
    }
}
