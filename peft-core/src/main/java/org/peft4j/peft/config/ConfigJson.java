package org.peft4j.peft.config;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Typed reads of a config's JSON object that remember which keys were read, so that the keys a newer PEFT wrote
 * can be reported and ignored. Type errors name the source, the field and what was expected.
 */
public final class ConfigJson {
    private final JsonObject json;
    private final String source;
    private final Set<String> read = new LinkedHashSet<>();

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

    public boolean has(String key) {
        return json.has(key) && !json.get(key).isJsonNull();
    }

    public IllegalArgumentException error(String key, String expected) {
        return new IllegalArgumentException(source + ": field '" + key + "' must be " + expected + ", got "
                + json.get(key));
    }

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

    public int integer(String key, int dflt) {
        JsonElement e = raw(key);
        if (e == null) {
            return dflt;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            throw error(key, "an integer");
        }
        double d = e.getAsDouble();
        if (d != Math.rint(d)) {
            throw error(key, "an integer");
        }
        return (int) d;
    }

    public double number(String key, double dflt) {
        JsonElement e = raw(key);
        if (e == null) {
            return dflt;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            throw error(key, "a number");
        }
        return e.getAsDouble();
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
        JsonElement e = raw(key);
        if (e == null) {
            return null;
        }
        List<Integer> out = new ArrayList<>();
        if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber()) {
            out.add(e.getAsInt());
            return out;
        }
        if (!e.isJsonArray()) {
            throw error(key, "an integer or a list of integers");
        }
        for (JsonElement x : e.getAsJsonArray()) {
            if (!x.isJsonPrimitive() || !x.getAsJsonPrimitive().isNumber()) {
                throw error(key, "an integer or a list of integers");
            }
            out.add(x.getAsInt());
        }
        return out;
    }

    /** An object whose values are numbers, in file order. */
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
            if (!x.getValue().isJsonPrimitive() || !x.getValue().getAsJsonPrimitive().isNumber()) {
                throw error(key, "an object of numbers");
            }
            out.put(x.getKey(), x.getValue().getAsDouble());
        }
        return out;
    }

    /** The keys present in the file that were never read, sorted. */
    public Set<String> unread() {
        Set<String> out = new TreeSet<>(json.keySet());
        out.removeAll(read);
        return out;
    }

    // ------------------------------------------------------------------ writing helpers

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
