package org.peft4j.safetensors;

import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.io.StringReader;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A strict JSON reader that builds a plain tree and, unlike Gson's {@code JsonParser}, rejects duplicate object keys.
 *
 * <p>Objects become insertion-ordered {@code Map<String, Object>}, arrays {@code List<Object>}, strings
 * {@code String}, numbers {@link Num} (keeping the literal text), booleans {@code Boolean} and null {@link #NULL}.
 */
final class StrictJson {
    /** The JSON {@code null} value. */
    static final Object NULL = new Object() {
        @Override
        public String toString() {
            return "null";
        }
    };

    private static final int MAX_DEPTH = 64;

    /** A JSON number as written in the document. */
    static final class Num {
        final String text;

        Num(String text) {
            this.text = text;
        }

        @Override
        public String toString() {
            return text;
        }
    }

    /** A syntax error, a duplicate key or excessive nesting; the message says which and where. */
    static final class JsonException extends Exception {
        private static final long serialVersionUID = 1L;
        /** For a duplicate key: the key and the path of the object holding it; otherwise null. */
        final String duplicateKey;
        final String objectPath;

        JsonException(String message, Throwable cause) {
            this(message, cause, null, null);
        }

        JsonException(String message, Throwable cause, String duplicateKey, String objectPath) {
            super(message, cause);
            this.duplicateKey = duplicateKey;
            this.objectPath = objectPath;
        }
    }

    private StrictJson() {
    }

    /** Parses exactly one JSON value; only whitespace may follow it. */
    static Object parse(String json) throws JsonException {
        if (json.startsWith("\uFEFF")) {
            throw new JsonException("starts with a byte order mark (U+FEFF)", null);
        }
        JsonReader reader = new JsonReader(new StringReader(json));
        reader.setStrictness(Strictness.STRICT);
        try {
            Object value = read(reader, "$", 0);
            if (reader.peek() != JsonToken.END_DOCUMENT) {
                throw new JsonException("unexpected content after the JSON value at " + reader.getPath(), null);
            }
            return value;
        } catch (IOException | IllegalStateException | NumberFormatException e) {
            // Gson reports syntax errors as MalformedJsonException (an IOException) or IllegalStateException
            throw new JsonException(cleanGsonMessage(e.getMessage()), e);
        } catch (StackOverflowError e) {
            throw new JsonException("nesting too deep", null);
        }
    }

    private static Object read(JsonReader reader, String path, int depth) throws IOException, JsonException {
        JsonToken token = reader.peek();
        switch (token) {
            case BEGIN_OBJECT: {
                checkDepth(depth, path);
                reader.beginObject();
                Map<String, Object> map = new LinkedHashMap<>();
                while (reader.hasNext()) {
                    String key = reader.nextName();
                    if (map.containsKey(key)) {
                        throw new JsonException("duplicate key '" + key + "' in the JSON object at " + path, null, key, path);
                    }
                    map.put(key, read(reader, path + "." + key, depth + 1));
                }
                reader.endObject();
                return Collections.unmodifiableMap(map);
            }
            case BEGIN_ARRAY: {
                checkDepth(depth, path);
                reader.beginArray();
                List<Object> list = new ArrayList<>();
                while (reader.hasNext()) {
                    list.add(read(reader, path + "[" + list.size() + "]", depth + 1));
                }
                reader.endArray();
                return Collections.unmodifiableList(list);
            }
            case STRING:
                return reader.nextString();
            case NUMBER:
                return new Num(reader.nextString());
            case BOOLEAN:
                return reader.nextBoolean();
            case NULL:
                reader.nextNull();
                return NULL;
            default:
                throw new JsonException("unexpected " + token + " at " + reader.getPath(), null);
        }
    }

    /** Gson's messages carry advice for Gson users (leniency, a troubleshooting link); keep only the facts. */
    private static String cleanGsonMessage(String message) {
        if (message == null) {
            return "syntax error";
        }
        String m = message;
        int newline = m.indexOf('\n');
        if (newline >= 0) {
            m = m.substring(0, newline);
        }
        return m.replace("Use JsonReader.setStrictness(Strictness.LENIENT) to accept malformed JSON", "syntax error")
                .replace(" in strict mode", "");
    }

    private static void checkDepth(int depth, String path) throws JsonException {
        if (depth >= MAX_DEPTH) {
            throw new JsonException("nesting deeper than " + MAX_DEPTH + " levels", null);
        }
    }

    /** A short rendering of a parsed value for error messages. */
    static String describe(Object value) {
        String s;
        if (value instanceof String) {
            s = "\"" + value + "\"";
        } else if (value instanceof Map) {
            s = "an object";
        } else if (value instanceof List) {
            StringBuilder sb = new StringBuilder("[");
            for (Object o : (List<?>) value) {
                if (sb.length() > 1) {
                    sb.append(',');
                }
                sb.append(describe(o));
                if (sb.length() > 60) {
                    sb.append(",...");
                    break;
                }
            }
            s = sb.append(']').toString();
        } else {
            s = String.valueOf(value);
        }
        return s.length() > 80 ? s.substring(0, 77) + "..." : s;
    }
}
