package org.peft4j.internal;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Converts between Gson's trees and the plain Java values of peft4j's public API: a JSON object is a
 * {@link LinkedHashMap} (file order), an array an {@link ArrayList}, a string a {@link String}, true/false a
 * {@link Boolean}, null {@code null}; a number an {@link Integer}, {@link Long} or {@link BigInteger} when written as
 * an integer (the smallest that holds it), else a {@link Double}, or a {@link BigDecimal} when it is beyond the double
 * range (so {@code 1e400} is never read as infinity). Numbers put in as Java values are normalised the same way (a
 * {@code Long} 16 reads back as the {@code Integer} 16, as it would from the file). Not API.
 */
public final class PlainJson {
    private PlainJson() {
    }

    /**
     * The plain Java value of a JSON element (a fresh copy: changing it changes nothing else).
     *
     * @param e the element, or null
     * @return the value, null for JSON null
     */
    public static Object toPlain(JsonElement e) {
        if (e == null || e.isJsonNull()) {
            return null;
        }
        if (e.isJsonObject()) {
            return toPlainMap(e.getAsJsonObject());
        }
        if (e.isJsonArray()) {
            List<Object> out = new ArrayList<>();
            for (JsonElement x : e.getAsJsonArray()) {
                out.add(toPlain(x));
            }
            return out;
        }
        JsonPrimitive p = e.getAsJsonPrimitive();
        if (p.isBoolean()) {
            return p.getAsBoolean();
        }
        if (p.isString()) {
            return p.getAsString();
        }
        return number(p.getAsNumber());
    }

    /**
     * The plain map of a JSON object, in its order.
     *
     * @param o the object, or null
     * @return the map, or null
     */
    public static Map<String, Object> toPlainMap(JsonObject o) {
        if (o == null) {
            return null;
        }
        Map<String, Object> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> x : o.entrySet()) {
            out.put(x.getKey(), toPlain(x.getValue()));
        }
        return out;
    }

    /** A number as the smallest of Integer, Long, BigInteger for an integer literal or type, else as Double. */
    private static Object number(Number n) {
        if (n instanceof Double) {
            return n;
        }
        if (n instanceof Integer || n instanceof Long || n instanceof Short || n instanceof Byte) {
            long v = n.longValue();
            return v == (int) v ? (Object) (int) v : (Object) v;
        }
        // LazilyParsedNumber, BigInteger, BigDecimal, Float: by their text, as Gson writes them
        String text = n.toString();
        if (text.indexOf('.') < 0 && text.indexOf('e') < 0 && text.indexOf('E') < 0) {
            BigInteger i = new BigInteger(text);
            if (i.bitLength() < 32) {
                return i.intValue();
            }
            return i.bitLength() < 64 ? (Object) i.longValue() : i;
        }
        double d = Double.parseDouble(text);
        return Double.isFinite(d) ? (Object) d : new BigDecimal(text);
    }

    /**
     * The JSON element of a plain value: null, a string, number, boolean, enum (its name), collection, map (keys as
     * strings) or a Gson element (used as is); anything else is written as its {@code toString()}.
     *
     * @param v the value
     * @return the element
     */
    public static JsonElement toTree(Object v) {
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
                a.add(toTree(x));
            }
            return a;
        }
        if (v instanceof Map) {
            JsonObject o = new JsonObject();
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                o.add(String.valueOf(e.getKey()), toTree(e.getValue()));
            }
            return o;
        }
        return new JsonPrimitive(v.toString());
    }

    /**
     * The tree of JSON text that Gson wrote (numbers keep their text); not for untrusted input, which goes through
     * {@link StrictGson}.
     *
     * @param json the text
     * @return the tree
     */
    public static JsonElement parseTrusted(String json) {
        return JsonParser.parseString(json);
    }
}
