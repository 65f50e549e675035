package org.peft4j.internal;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import com.google.gson.Strictness;
import com.google.gson.internal.LazilyParsedNumber;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.io.StringReader;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import org.peft4j.ConfigException;

/**
 * Strict JSON parsing of config files with Gson (RFC 8259; the safetensors header has its own bounded parser,
 * {@code safetensors.StrictJson}): no comments, single quotes, unquoted names, NaN/Infinity or
 * trailing text, and no duplicate keys (a file saying two things for one field is refused rather than read as the
 * last one). Numbers keep their literal text, so range checks see {@code 1e400} or {@code 4294967296} as written.
 */
public final class StrictGson {
    /** The deepest nesting accepted (configs are a few levels deep). */
    public static final int MAX_DEPTH = 64;

    private StrictGson() {
    }

    /**
     * Parses {@code text} as one JSON object.
     *
     * @param source the file the text came from (or a name such as {@code <string>}), named in every message
     * @throws ConfigException naming {@code source} (and Gson's line and column) if the text is not exactly one
     *     strict JSON object; its {@code file()} is {@code source} unless that is a {@code <name>}
     */
    public static JsonObject parseObject(String text, String source) {
        JsonElement e;
        try (JsonReader r = new JsonReader(new StringReader(text))) {
            r.setStrictness(Strictness.STRICT);
            e = read(r, 0);
            if (r.peek() != JsonToken.END_DOCUMENT) {
                throw new IOException("unexpected text after the JSON value at " + r.getPath());
            }
        } catch (IOException | IllegalStateException | NumberFormatException ex) {
            String field = ex instanceof DuplicateKey d ? d.key : null;
            throw new ConfigException(source + ": malformed JSON: " + ex.getMessage(), fileOf(source), field, ex);
        }
        if (!e.isJsonObject()) {
            throw new ConfigException(source + ": expected a JSON object, got " + shorten(e.toString()),
                    fileOf(source), null, null);
        }
        return e.getAsJsonObject();
    }

    private static JsonElement read(JsonReader r, int depth) throws IOException {
        if (depth > MAX_DEPTH) {
            throw new IOException("nested deeper than " + MAX_DEPTH + " levels at " + r.getPath());
        }
        switch (r.peek()) {
            case BEGIN_OBJECT: {
                JsonObject o = new JsonObject();
                r.beginObject();
                while (r.hasNext()) {
                    String name = r.nextName();
                    if (o.has(name)) {
                        throw new DuplicateKey(name, r.getPath());
                    }
                    o.add(name, read(r, depth + 1));
                }
                r.endObject();
                return o;
            }
            case BEGIN_ARRAY: {
                JsonArray a = new JsonArray();
                r.beginArray();
                while (r.hasNext()) {
                    a.add(read(r, depth + 1));
                }
                r.endArray();
                return a;
            }
            case STRING:
                return new JsonPrimitive(r.nextString());
            case NUMBER:
                return new JsonPrimitive(new LazilyParsedNumber(r.nextString()));
            case BOOLEAN:
                return new JsonPrimitive(r.nextBoolean());
            case NULL:
                r.nextNull();
                return JsonNull.INSTANCE;
            default:
                throw new IOException("unexpected " + r.peek() + " at " + r.getPath());
        }
    }

    private static Path fileOf(String source) {
        if (source == null || source.startsWith("<")) {
            return null;
        }
        try {
            return Path.of(source);
        } catch (InvalidPathException e) {
            return null;
        }
    }

    /** A key given twice in one object; the field of the resulting {@link ConfigException}. */
    private static final class DuplicateKey extends IOException {
        private static final long serialVersionUID = 1L;
        private final String key;

        DuplicateKey(String key, String path) {
            super("duplicate key '" + key + "' at " + path);
            this.key = key;
        }
    }

    private static String shorten(String s) {
        return s.length() <= 60 ? s : s.substring(0, 60) + "...";
    }
}
