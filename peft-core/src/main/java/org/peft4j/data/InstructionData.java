package org.peft4j.data;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Loads instruction records from a JSON array ({@code .json}) or JSON lines (any other name; blank lines are
 * skipped). Each record is either alpaca ({@code instruction}, optional {@code input}, {@code output}) or chat
 * ({@code messages}: objects with {@code role} in system/user/assistant and {@code content}); the form is chosen
 * per record by the presence of {@code messages}. Invalid records raise {@link DataFormatException} naming the
 * file, the line (JSONL) or index (JSON array), and the field.
 */
public final class InstructionData {
    private static final Set<String> ROLES = Set.of("system", "user", "assistant");

    private InstructionData() {}

    /** Loads every record of {@code file}. */
    public static List<InstructionRecord> load(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.of("read", file, e);
        }
        List<InstructionRecord> out = new ArrayList<>();
        if (file.getFileName().toString().endsWith(".json") || text.stripLeading().startsWith("[")) {
            JsonElement root;
            try {
                root = JsonParser.parseString(text);
            } catch (RuntimeException e) {
                throw new DataFormatException(file + ": invalid JSON: " + e.getMessage(), e);
            }
            if (!root.isJsonArray()) {
                throw new DataFormatException(file + ": expected a JSON array of records");
            }
            JsonArray array = root.getAsJsonArray();
            for (int i = 0; i < array.size(); i++) {
                out.add(parse(array.get(i), file + ": record at index " + i));
            }
        } else {
            String[] lines = text.split("\r?\n", -1);
            for (int i = 0; i < lines.length; i++) {
                if (lines[i].isBlank()) {
                    continue;
                }
                String where = file + ":" + (i + 1) + ": record on line " + (i + 1);
                JsonElement e;
                try {
                    e = JsonParser.parseString(lines[i]);
                } catch (RuntimeException ex) {
                    throw new DataFormatException(where + ": invalid JSON: " + ex.getMessage(), ex);
                }
                out.add(parse(e, where));
            }
        }
        return out;
    }

    /** Loads {@code file} and checks that every record is alpaca. */
    public static List<InstructionRecord.Alpaca> loadAlpaca(Path file) {
        return only(load(file), InstructionRecord.Alpaca.class, file, "alpaca (instruction/input/output)");
    }

    /** Loads {@code file} and checks that every record is a chat. */
    public static List<InstructionRecord.Chat> loadChat(Path file) {
        return only(load(file), InstructionRecord.Chat.class, file, "chat (messages)");
    }

    private static <T> List<T> only(List<InstructionRecord> records, Class<T> type, Path file, String form) {
        List<T> out = new ArrayList<>();
        for (int i = 0; i < records.size(); i++) {
            if (!type.isInstance(records.get(i))) {
                throw new DataFormatException(file + ": record " + i + " is not in the " + form + " form");
            }
            out.add(type.cast(records.get(i)));
        }
        return out;
    }

    static InstructionRecord parse(JsonElement e, String where) {
        if (!e.isJsonObject()) {
            throw new DataFormatException(where + ": expected a JSON object, found " + kind(e));
        }
        JsonObject o = e.getAsJsonObject();
        if (o.has("messages")) {
            JsonElement m = o.get("messages");
            if (!m.isJsonArray()) {
                throw new DataFormatException(where + ": field 'messages' must be an array, found " + kind(m));
            }
            List<Message> messages = new ArrayList<>();
            JsonArray array = m.getAsJsonArray();
            if (array.isEmpty()) {
                throw new DataFormatException(where + ": field 'messages' is empty");
            }
            for (int i = 0; i < array.size(); i++) {
                String at = where + ": messages[" + i + "]";
                if (!array.get(i).isJsonObject()) {
                    throw new DataFormatException(at + ": expected an object, found " + kind(array.get(i)));
                }
                JsonObject msg = array.get(i).getAsJsonObject();
                String role = string(msg, "role", at, true);
                if (!ROLES.contains(role)) {
                    throw new DataFormatException(at + ": field 'role' is '" + role
                            + "', expected system, user or assistant");
                }
                messages.add(new Message(role, string(msg, "content", at, true)));
            }
            return new InstructionRecord.Chat(messages);
        }
        String instruction = string(o, "instruction", where, true);
        String input = string(o, "input", where, false);
        String output = string(o, "output", where, true);
        return new InstructionRecord.Alpaca(instruction, input == null ? "" : input, output);
    }

    private static String string(JsonObject o, String field, String where, boolean required) {
        JsonElement v = o.get(field);
        if (v == null || v.isJsonNull()) {
            if (required) {
                throw new DataFormatException(where + ": missing field '" + field + "'");
            }
            return null;
        }
        if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isString()) {
            throw new DataFormatException(where + ": field '" + field + "' must be a string, found " + kind(v));
        }
        return v.getAsString();
    }

    private static String kind(JsonElement e) {
        if (e.isJsonNull()) {
            return "null";
        }
        if (e.isJsonArray()) {
            return "an array";
        }
        if (e.isJsonObject()) {
            return "an object";
        }
        var p = e.getAsJsonPrimitive();
        return p.isBoolean() ? "a boolean" : p.isNumber() ? "a number" : "a string";
    }
}
