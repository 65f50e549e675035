package org.peft4j.cli;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Prompts for {@code peft4j generate}: a JSONL file with a {@code "prompt"} field per line (an optional
 * {@code "expect"} is shown next to the answers), or a plain text file with one prompt per line. Blank lines are
 * skipped; a line is read as JSON when it starts with {@code {}.
 */
final class Prompts {
    /** One prompt and, when the file gives one, the expected answer (or null). */
    record Prompt(String text, String expect, String kind) {
        Prompt(String text, String expect) {
            this(text, expect, null);
        }
    }

    private Prompts() {
    }

    static List<Prompt> read(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        List<Prompt> out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty()) {
                continue;
            }
            if (!line.startsWith("{")) {
                out.add(new Prompt(line, null));
                continue;
            }
            String where = file + ":" + (i + 1);
            JsonObject o;
            try {
                JsonElement e = JsonParser.parseString(line);
                o = e.getAsJsonObject();
            } catch (RuntimeException e) {
                throw new CliException(where + ": invalid JSON (expected {\"prompt\": \"...\"} or a plain text "
                        + "line): " + e.getMessage(), e);
            }
            JsonElement p = o.get("prompt");
            if (p == null || !p.isJsonPrimitive() || !p.getAsJsonPrimitive().isString()) {
                throw new CliException(where + ": expected a string field \"prompt\"");
            }
            JsonElement x = o.get("expect");
            JsonElement k = o.get("kind");
            out.add(new Prompt(p.getAsString(), x != null && x.isJsonPrimitive() ? x.getAsString() : null,
                    k != null && k.isJsonPrimitive() ? k.getAsString() : null));
        }
        if (out.isEmpty()) {
            throw new CliException(file + ": no prompts (expected JSONL lines with a \"prompt\" field or one "
                    + "prompt per line)");
        }
        return out;
    }
}
