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

    /**
     * Bounds on what one parse may build, so that a hostile document costs memory and time linear in its size and
     * never more than the caller allows. Each violation is a {@link LimitException}, raised as soon as it is seen.
     */
    static final class Limits {
        /** Longest object key, in characters. */
        final int maxKeyLength;
        /** Most members of any one object or elements of any one array. */
        final int maxMembers;
        /** Most values in the whole document (objects, arrays and scalars, the root included). */
        final long maxValues;

        Limits(int maxKeyLength, int maxMembers, long maxValues) {
            this.maxKeyLength = maxKeyLength;
            this.maxMembers = maxMembers;
            this.maxValues = maxValues;
        }
    }

    /** A syntax error, a duplicate key or excessive nesting; the message says which and where. */
    static class JsonException extends Exception {
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

    /** Which bound of {@link Limits} a document exceeded. */
    enum Limit {
        KEY_LENGTH, MEMBERS, VALUES
    }

    /** The document exceeds one of the {@link Limits}; parsing stopped there. */
    static final class LimitException extends JsonException {
        private static final long serialVersionUID = 1L;
        final Limit limit;
        /** The path of the key, object, array or value where the limit was exceeded ({@code $} is the root). */
        final String path;

        LimitException(Limit limit, String path, String message) {
            super(message, null);
            this.limit = limit;
            this.path = path;
        }
    }

    private StrictJson() {
    }

    /** Parses exactly one JSON value; only whitespace may follow it. */
    static Object parse(String json, Limits limits) throws JsonException {
        if (json.startsWith("\uFEFF")) {
            throw new JsonException("starts with a byte order mark (U+FEFF)", null);
        }
        JsonReader reader = new JsonReader(new StringReader(json));
        reader.setStrictness(Strictness.STRICT);
        try {
            Object value = new Parser(reader, limits).read(0);
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

    /**
     * One parse. The path to the current value is kept as a stack of segments and rendered only for an error message:
     * building it eagerly for every value costs (key length x number of values), quadratic in the document size.
     */
    private static final class Parser {
        private final JsonReader reader;
        private final Limits limits;
        /** Path segments below the root: a String key or an Integer array index. */
        private final List<Object> path = new ArrayList<>();
        private long values;

        Parser(JsonReader reader, Limits limits) {
            this.reader = reader;
            this.limits = limits;
        }

        Object read(int depth) throws IOException, JsonException {
            if (++values > limits.maxValues) {
                throw new LimitException(Limit.VALUES, path(), "more than " + limits.maxValues
                        + " JSON values (exceeded at " + path() + ")");
            }
            JsonToken token = reader.peek();
            switch (token) {
                case BEGIN_OBJECT: {
                    checkDepth(depth);
                    reader.beginObject();
                    Map<String, Object> map = new LinkedHashMap<>();
                    while (reader.hasNext()) {
                        String key = reader.nextName();
                        if (key.length() > limits.maxKeyLength) {
                            throw new LimitException(Limit.KEY_LENGTH, path(), "a key of " + key.length()
                                    + " characters in the object at " + path() + " exceeds the limit of "
                                    + limits.maxKeyLength + " characters (key starts \"" + abbreviate(key) + "\")");
                        }
                        if (map.containsKey(key)) {
                            String where = path();
                            throw new JsonException("duplicate key '" + key + "' in the JSON object at " + where,
                                    null, key, where);
                        }
                        if (map.size() >= limits.maxMembers) {
                            throw new LimitException(Limit.MEMBERS, path(), "the object at " + path()
                                    + " has more than " + limits.maxMembers + " members");
                        }
                        path.add(key);
                        map.put(key, read(depth + 1));
                        path.remove(path.size() - 1);
                    }
                    reader.endObject();
                    return Collections.unmodifiableMap(map);
                }
                case BEGIN_ARRAY: {
                    checkDepth(depth);
                    reader.beginArray();
                    List<Object> list = new ArrayList<>();
                    while (reader.hasNext()) {
                        if (list.size() >= limits.maxMembers) {
                            throw new LimitException(Limit.MEMBERS, path(), "the array at " + path()
                                    + " has more than " + limits.maxMembers + " elements");
                        }
                        path.add(list.size());
                        list.add(read(depth + 1));
                        path.remove(path.size() - 1);
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

        private void checkDepth(int depth) throws JsonException {
            if (depth >= MAX_DEPTH) {
                throw new JsonException("nesting deeper than " + MAX_DEPTH + " levels", null);
            }
        }

        /** The current path, {@code $} for the root, e.g. {@code $.w.shape[1]}; long keys abbreviated. */
        private String path() {
            StringBuilder sb = new StringBuilder("$");
            for (Object segment : path) {
                if (segment instanceof Integer) {
                    sb.append('[').append(segment).append(']');
                } else {
                    sb.append('.').append(abbreviate((String) segment));
                }
            }
            return sb.toString();
        }
    }

    /** At most the first 40 characters of {@code s}, with "..." when cut. */
    static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
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
