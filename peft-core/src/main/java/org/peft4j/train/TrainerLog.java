package org.peft4j.train;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.peft4j.util.AtomicFiles;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Repairs {@code trainer_log.jsonl} before a resumed run appends to it. */
final class TrainerLog {
    private static final Logger LOG = LoggerFactory.getLogger(TrainerLog.class);

    private TrainerLog() {
    }

    /**
     * Keeps the complete entries of steps up to {@code step} (the resumed checkpoint's) and drops the rest: entries
     * of later steps (the resumed run logs them again) and a half-written last line (the process was killed while
     * appending). A missing file is left missing. Returns the number of lines dropped.
     */
    static int truncate(Path file, long step) throws IOException {
        if (!Files.exists(file)) {
            return 0;
        }
        String text = Files.readString(file, StandardCharsets.UTF_8);
        StringBuilder kept = new StringBuilder();
        int dropped = 0;
        int from = 0;
        while (from < text.length()) {
            int nl = text.indexOf('\n', from);
            String line = nl < 0 ? text.substring(from) : text.substring(from, nl);
            from = nl < 0 ? text.length() : nl + 1;
            if (line.isBlank()) {
                continue;
            }
            Long entryStep = nl < 0 ? null : step(line); // a last line without its newline was cut off
            if (entryStep != null && entryStep <= step) {
                kept.append(line).append('\n');
            } else {
                dropped++;
            }
        }
        if (dropped > 0) {
            LOG.info("{}: dropped {} line(s) written after step {} or cut off", file, dropped, step);
            AtomicFiles.writeString(file, kept.toString());
        }
        return dropped;
    }

    /** The entry's step, or null when the line is no complete JSON object with a step. */
    private static Long step(String line) {
        try {
            JsonElement e = JsonParser.parseString(line);
            if (!e.isJsonObject()) {
                return null;
            }
            JsonObject o = e.getAsJsonObject();
            return o.has("step") && o.get("step").isJsonPrimitive() ? o.get("step").getAsLong() : null;
        } catch (JsonParseException | NumberFormatException | IllegalStateException ex) {
            return null;
        }
    }
}
