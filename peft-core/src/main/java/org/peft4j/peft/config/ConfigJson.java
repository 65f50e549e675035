package org.peft4j.peft.config;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import org.peft4j.internal.PlainJson;
import org.peft4j.internal.StrictGson;

/**
 * Typed reads of a config's JSON object that remember which keys were read, so that the keys a newer PEFT wrote
 * can be reported and ignored. Type errors name the source, the field and what was expected: every read throws
 * {@link IllegalArgumentException} for a value of the wrong JSON type, and numbers are converted exactly (an integer
 * outside the int range, a fraction for an integer, or a non-finite number such as {@code 1e400} is refused, never
 * wrapped or saturated).
 */
public final class ConfigJson {
    private final JsonObject json;
    private final String source;
    private final Set<String> read = new LinkedHashSet<>();

    /**
     * A view of a config object.
     *
     * @param json the object (not copied)
     * @param source where it came from, for error messages
     */
    ConfigJson(JsonObject json, String source) {
        this.json = json;
        this.source = source;
    }

    /**
     * Parses the JSON text of a config object strictly (RFC 8259: no comments, NaN or trailing text, no duplicate
     * keys; numbers are kept as written, so range checks see them exactly).
     *
     * @param json the text of one JSON object
     * @param source where it came from, for error messages
     * @return a view of the object
     * @throws org.peft4j.ConfigException naming {@code source} if the text is not exactly one strict JSON object
     */
    public static ConfigJson parse(String json, String source) {
        return new ConfigJson(StrictGson.parseObject(json, source), source);
    }

    /**
     * A view of a config given as plain Java values (as {@code PeftConfig(**kwargs)}): strings, numbers, booleans,
     * lists, maps, enums (their names) and nulls.
     *
     * @param values the fields (copied)
     * @param source where they came from, for error messages
     * @return a view of the fields
     */
    public static ConfigJson fromMap(Map<String, ?> values, String source) {
        return new ConfigJson(PlainJson.toTree(values).getAsJsonObject(), source);
    }

    /** The object itself, for this package (reading it marks nothing read). */
    JsonObject tree() {
        return json;
    }

    /** The element of {@code key} without marking it read (null when absent or JSON null), for this package. */
    JsonElement element(String key) {
        JsonElement e = json.get(key);
        return e == null || e.isJsonNull() ? null : e;
    }

    /** Where the JSON came from (a file path), for messages. */
    public String source() {
        return source;
    }

    /** Marks {@code key} read and returns its element (null when absent or JSON null). */
    private JsonElement raw(String key) {
        read.add(key);
        return element(key);
    }

    /**
     * The value of {@code key} as a plain Java value (a fresh copy): a {@code Map<String, Object>} for an object (in
     * file order), a {@code List<Object>} for an array, a {@link String}, a {@link Boolean}, a {@link Number}
     * ({@link Integer}, {@link Long} or {@link java.math.BigInteger} for an integer, {@link Double} otherwise, a
     * {@link java.math.BigDecimal} beyond the double range), or null when absent or JSON null. Marks the key read.
     *
     * @param key the JSON key
     * @return the value, or null
     */
    public Object value(String key) {
        return PlainJson.toPlain(raw(key));
    }

    /**
     * A nested object as its own view (source {@code "<source> (<key>)"}), or null when absent or null; marks the key
     * read.
     *
     * @param key the JSON key
     * @param expected what the value must be, for the error
     * @return the nested view, or null
     * @throws IllegalArgumentException naming the field if the value is not an object
     */
    public ConfigJson object(String key, String expected) {
        JsonElement e = raw(key);
        if (e == null) {
            return null;
        }
        if (!e.isJsonObject()) {
            throw error(key, expected);
        }
        return new ConfigJson(e.getAsJsonObject(), source + " (" + key + ")");
    }

    /**
     * The object's JSON text, compact, with numbers as written (reading it marks nothing read).
     *
     * @return the text
     */
    public String toJson() {
        return json.toString();
    }

    /**
     * The keys of the object, in file order (reading them marks nothing read).
     *
     * @return the keys (a copy)
     */
    public Set<String> keys() {
        return new LinkedHashSet<>(json.keySet());
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

    /** An error naming the source and {@code key}: the value must be {@code expected}. */
    public IllegalArgumentException error(String key, String expected) {
        String got = String.valueOf(json.get(key));
        return new IllegalArgumentException(source + ": field '" + key + "' must be " + expected + ", got "
                + (got.length() > 200 ? got.substring(0, 200) + "..." : got));
    }

    /**
     * A string field.
     *
     * @param key the JSON key
     * @param dflt the value when absent or null
     * @return the value
     * @throws IllegalArgumentException naming the field if it is not a string
     */
    public String string(String key, String dflt) {
        JsonElement e = raw(key);
        if (e == null) {
            return dflt;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            throw error(key, "a string");
        }
        return e.getAsString();
    }

    /**
     * A boolean field.
     *
     * @param key the JSON key
     * @param dflt the value when absent or null
     * @return the value
     * @throws IllegalArgumentException naming the field if it is not a boolean
     */
    public boolean bool(String key, boolean dflt) {
        JsonElement e = raw(key);
        if (e == null) {
            return dflt;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
            throw error(key, "true or false");
        }
        return e.getAsBoolean();
    }

    /** An integer that fits an int, or {@code dflt} when absent or null. */
    public int integer(String key, int dflt) {
        return integer(key, dflt, Integer.MIN_VALUE, Integer.MAX_VALUE);
    }

    /** An integer in {@code [min, max]}, or {@code dflt} when absent or null. */
    public int integer(String key, int dflt, int min, int max) {
        JsonElement e = raw(key);
        if (e == null) {
            return dflt;
        }
        return exactInt(key, e, min, max, range("an integer", min, max));
    }

    /** A finite number, or {@code dflt} when absent or null. */
    public double number(String key, double dflt) {
        JsonElement e = raw(key);
        if (e == null) {
            return dflt;
        }
        return finite(key, e, "a number");
    }

    private static String range(String what, int min, int max) {
        return what + " in [" + min + ", " + max + "]";
    }

    private int exactInt(String key, JsonElement e, int min, int max, String expected) {
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            throw error(key, expected);
        }
        String text = e.getAsString();
        BigDecimal d;
        try {
            // a long exponent is refused before BigDecimal would have to expand it
            if (text.length() > 40 || text.matches(".*[eE][+]?\\d{3,}.*")) {
                throw error(key, expected);
            }
            d = new BigDecimal(text);
        } catch (NumberFormatException ex) {
            throw error(key, expected);
        }
        if (d.signum() != 0 && d.stripTrailingZeros().scale() > 0) {
            throw error(key, expected);
        }
        if (d.compareTo(BigDecimal.valueOf(min)) < 0 || d.compareTo(BigDecimal.valueOf(max)) > 0) {
            throw error(key, expected);
        }
        return d.intValueExact();
    }

    private double finite(String key, JsonElement e, String expected) {
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            throw error(key, expected);
        }
        double d = e.getAsDouble();
        if (!Double.isFinite(d)) {
            throw error(key, "a finite number");
        }
        return d;
    }

    /** A list of strings; a bare string is an error unless {@code allowString} (then null is returned). */
    public List<String> strings(String key) {
        JsonElement e = raw(key);
        if (e == null) {
            return null;
        }
        if (!e.isJsonArray()) {
            throw error(key, "a list of strings");
        }
        List<String> out = new ArrayList<>();
        for (JsonElement x : e.getAsJsonArray()) {
            if (!x.isJsonPrimitive() || !x.getAsJsonPrimitive().isString()) {
                throw error(key, "a list of strings");
            }
            out.add(x.getAsString());
        }
        return out;
    }

    /** A list of integers, or a single integer as a one-element list. */
    public List<Integer> integers(String key) {
        return integers(key, Integer.MIN_VALUE, Integer.MAX_VALUE);
    }

    /** A list of integers in {@code [min, max]}, or a single one as a one-element list; null when absent. */
    public List<Integer> integers(String key, int min, int max) {
        JsonElement e = raw(key);
        if (e == null) {
            return null;
        }
        String expected = range("an integer or a list of integers", min, max);
        List<Integer> out = new ArrayList<>();
        if (e.isJsonPrimitive()) {
            out.add(exactInt(key, e, min, max, expected));
            return out;
        }
        if (!e.isJsonArray()) {
            throw error(key, expected);
        }
        for (JsonElement x : e.getAsJsonArray()) {
            out.add(exactInt(key, x, min, max, expected));
        }
        return out;
    }

    /** A list of booleans, or null when absent. */
    public List<Boolean> booleans(String key) {
        JsonElement e = raw(key);
        if (e == null) {
            return null;
        }
        if (!e.isJsonArray()) {
            throw error(key, "a list of true or false");
        }
        List<Boolean> out = new ArrayList<>();
        for (JsonElement x : e.getAsJsonArray()) {
            if (!x.isJsonPrimitive() || !x.getAsJsonPrimitive().isBoolean()) {
                throw error(key, "a list of true or false");
            }
            out.add(x.getAsBoolean());
        }
        return out;
    }

    /** An object whose values are finite numbers, in file order. */
    public Map<String, Double> numberMap(String key) {
        JsonElement e = raw(key);
        Map<String, Double> out = new LinkedHashMap<>();
        if (e == null) {
            return out;
        }
        if (!e.isJsonObject()) {
            throw error(key, "an object of numbers");
        }
        for (Map.Entry<String, JsonElement> x : e.getAsJsonObject().entrySet()) {
            out.put(x.getKey(), finite(key, x.getValue(), "an object of numbers"));
        }
        return out;
    }

    /** An object whose values are integers in {@code [min, max]}, in file order. */
    public Map<String, Integer> integerMap(String key, int min, int max) {
        JsonElement e = raw(key);
        Map<String, Integer> out = new LinkedHashMap<>();
        if (e == null) {
            return out;
        }
        String expected = range("an object of integers", min, max);
        if (!e.isJsonObject()) {
            throw error(key, expected);
        }
        for (Map.Entry<String, JsonElement> x : e.getAsJsonObject().entrySet()) {
            out.put(x.getKey(), exactInt(key, x.getValue(), min, max, expected));
        }
        return out;
    }

    /**
     * Checks that {@code template} with {@code %s} replaced by {@code pattern} (a value of {@code key}) compiles as
     * a regular expression, the way the value will be used.
     *
     * @throws IllegalArgumentException naming the source and the field if it does not
     */
    public void checkRegex(String key, String pattern, String template) {
        try {
            Pattern.compile(template.replace("%s", pattern));
        } catch (PatternSyntaxException ex) {
            throw new IllegalArgumentException(source + ": field '" + key + "' must hold valid regular expressions, got "
                    + quote(pattern) + ": " + ex.getDescription(), ex);
        }
    }

    private static String quote(String s) {
        return new JsonPrimitive(s).toString();
    }

    /** The keys present in the file that were never read, sorted. */
    public Set<String> unread() {
        Set<String> out = new TreeSet<>(json.keySet());
        out.removeAll(read);
        return out;
    }
}
