package org.peft4j.generation;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.peft4j.Peft4jException;
import org.peft4j.internal.StrictGson;

/** Reads transformers' {@code generation_config.json}; see {@link GenerationConfig#fromPretrained(Path)}. */
final class GenerationConfigFile {
    static final String FILE_NAME = "generation_config.json";

    private GenerationConfigFile() {
    }

    static GenerationConfig read(Path dirOrFile) {
        Path file = Files.isDirectory(dirOrFile) ? dirOrFile.resolve(FILE_NAME) : dirOrFile;
        GenerationConfig.Builder b = GenerationConfig.builder();
        if (!Files.isRegularFile(file)) {
            return b.build();
        }
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.of("read", file, e);
        }
        JsonObject json = StrictGson.parseObject(text, file.toString());
        boolean doSample = bool(file, json, "do_sample", false);
        b.doSample(doSample);
        Long maxNew = integer(file, json, "max_new_tokens");
        if (maxNew != null) {
            apply(file, "max_new_tokens", () -> b.maxNewTokens(toInt(file, "max_new_tokens", maxNew)));
        }
        // sampling settings only matter (and are only checked, as transformers only warns) when sampling
        Double temperature = number(file, json, "temperature");
        if (temperature != null && (doSample || temperature > 0)) {
            apply(file, "temperature", () -> b.temperature(temperature));
        }
        Long topK = integer(file, json, "top_k");
        if (topK != null && (doSample || topK >= 0)) {
            apply(file, "top_k", () -> b.topK(toInt(file, "top_k", topK)));
        }
        Double topP = number(file, json, "top_p");
        if (topP != null && (doSample || (topP >= 0 && topP <= 1))) {
            apply(file, "top_p", () -> b.topP(topP));
        }
        List<Long> eos = ids(file, json, "eos_token_id");
        if (eos != null) {
            b.eosTokenIds(eos);
        }
        List<Long> pad = ids(file, json, "pad_token_id");
        if (pad != null && !pad.isEmpty()) {
            b.padTokenId(pad.get(0));
        }
        return b.build();
    }

    /** {@code v} as an int, refused by name when out of range (never saturated). */
    private static int toInt(Path file, String field, long v) {
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw bad(file, field, "expected a value that fits a 32-bit integer, got " + v);
        }
        return (int) v;
    }

    private static void apply(Path file, String field, Runnable set) {
        try {
            set.run();
        } catch (IllegalArgumentException | ArithmeticException e) {
            throw bad(file, field, e.getMessage());
        }
    }

    private static org.peft4j.ConfigException bad(Path file, String field, String problem) {
        return new org.peft4j.ConfigException(file + ": invalid '" + field + "': " + problem, file, field, null);
    }

    private static JsonElement field(JsonObject json, String name) {
        JsonElement e = json.get(name);
        return e == null || e.isJsonNull() ? null : e;
    }

    private static boolean bool(Path file, JsonObject json, String name, boolean dflt) {
        JsonElement e = field(json, name);
        if (e == null) {
            return dflt;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
            throw bad(file, name, "expected true or false, got " + e);
        }
        return e.getAsBoolean();
    }

    private static Double number(Path file, JsonObject json, String name) {
        JsonElement e = field(json, name);
        if (e == null) {
            return null;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            throw bad(file, name, "expected a number, got " + e);
        }
        double v = e.getAsDouble();
        if (!Double.isFinite(v)) {
            throw bad(file, name, "expected a finite number, got " + e);
        }
        return v;
    }

    private static Long integer(Path file, JsonObject json, String name) {
        JsonElement e = field(json, name);
        return e == null ? null : exactInteger(file, name, e);
    }

    private static long exactInteger(Path file, String name, JsonElement e) {
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            throw bad(file, name, "expected an integer, got " + e);
        }
        try {
            return e.getAsBigDecimal().longValueExact();
        } catch (ArithmeticException ex) {
            throw bad(file, name, "expected an integer, got " + e);
        }
    }

    /** A token id or a list of them (transformers' {@code eos_token_id: int | list[int]}). */
    private static List<Long> ids(Path file, JsonObject json, String name) {
        JsonElement e = field(json, name);
        if (e == null) {
            return null;
        }
        List<Long> out = new ArrayList<>();
        if (e.isJsonArray()) {
            for (JsonElement x : e.getAsJsonArray()) {
                out.add(id(file, name, x));
            }
        } else {
            out.add(id(file, name, e));
        }
        return out;
    }

    private static long id(Path file, String name, JsonElement e) {
        long v = exactInteger(file, name, e);
        if (v < 0 || v > Integer.MAX_VALUE - 1L) {
            throw bad(file, name, "token ids must be in [0, " + (Integer.MAX_VALUE - 1L) + "], got " + v);
        }
        return v;
    }
}
