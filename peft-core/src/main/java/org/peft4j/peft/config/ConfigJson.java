package org.peft4j.peft.config;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

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
    public ConfigJson(JsonObject json, String source) {
        this.json = json;
        this.source = source;
    }

    /** The whole JSON object (reading it marks nothing read). */
    public JsonObject object() {
        return json;
    }

    /** Where the JSON came from (a file path), for messages. */
    public String source() {
        return source;
    }

    /** The raw element of {@code key} (null when absent or JSON null); marks it read. */
    public JsonElement raw(String key) {
        read.add(key);
        JsonElement e = json.get(key);
        return e == null || e.isJsonNull() ? null : e;
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

    // ------------------------------------------------------------------ writing helpers

    /**
     * Converts a Java value (null, string, number, boolean, list, map, enum) to JSON.
     *
     * @param v the value
     * @return the JSON element
     */
    public static JsonElement of(Object v) {
        if (v == null) {
            return JsonNull.INSTANCE;
        }
        if (v instanceof JsonElement) {
            return (JsonElement) v;
        }
        if (v instanceof Boolean) {
            return new JsonPrimitive((Boolean) v);
        }
        if (v instanceof Number) {
            return new JsonPrimitive((Number) v);
        }
        if (v instanceof Enum) {
            return new JsonPrimitive(((Enum<?>) v).name());
        }
        if (v instanceof Collection) {
            JsonArray a = new JsonArray();
            for (Object x : (Collection<?>) v) {
                a.add(of(x));
            }
            return a;
        }
        if (v instanceof Map) {
            JsonObject o = new JsonObject();
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                o.add(String.valueOf(e.getKey()), of(e.getValue()));
            }
            return o;
        }
        return new JsonPrimitive(v.toString());
    }
}
