package org.peft4j.train;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.safetensors.SafeTensorsWriter;
import org.peft4j.tensor.Tensor;
import org.peft4j.util.AtomicFiles;

/**
 * A training checkpoint folder {@code output_dir/checkpoint-N/}: trainable weights ({@code model.safetensors}),
 * AdamW moments and step ({@code optimizer.safetensors}), the data position ({@code rng_state.json}) and
 * {@code trainer_state.json}, plus whatever the trainer's extra writer adds (a PEFT model's adapter files). The folder is written under a temporary name and renamed into place, so a crash never
 * leaves a half-written checkpoint.
 */
final class Checkpoint {
    static final String PREFIX = "checkpoint-";
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().create();

    final long globalStep;
    final long maxSteps;
    final long batchCursor;
    final long optimizerStep;
    final Map<String, Tensor> weights;
    final Map<String, float[]> expAvg;
    final Map<String, float[]> expAvgSq;
    final JsonArray logHistory;

    Checkpoint(long globalStep, long maxSteps, long batchCursor, long optimizerStep, Map<String, Tensor> weights,
            Map<String, float[]> expAvg, Map<String, float[]> expAvgSq, JsonArray logHistory) {
        this.globalStep = globalStep;
        this.maxSteps = maxSteps;
        this.batchCursor = batchCursor;
        this.optimizerStep = optimizerStep;
        this.weights = weights;
        this.expAvg = expAvg;
        this.expAvgSq = expAvgSq;
        this.logHistory = logHistory;
    }

    /** Files written into the checkpoint folder besides the trainer's own (before it is renamed into place). */
    interface ExtraFiles {
        void write(Path checkpointDir) throws IOException;
    }

    Path write(Path outputDir) throws IOException {
        return write(outputDir, null);
    }

    Path write(Path outputDir, ExtraFiles extra) throws IOException {
        Path target = outputDir.resolve(PREFIX + globalStep);
        Path tmp = outputDir.resolve("." + PREFIX + globalStep + ".tmp");
        deleteTree(tmp);
        Files.createDirectories(tmp);
        SafeTensorsWriter.write(tmp.resolve("model.safetensors"), weights, SafeTensorsWriter.PT_METADATA);
        Map<String, Tensor> opt = new LinkedHashMap<>();
        for (Map.Entry<String, float[]> e : expAvg.entrySet()) {
            opt.put("exp_avg." + e.getKey(), Tensor.of(e.getValue(), e.getValue().length));
            float[] sq = expAvgSq.get(e.getKey());
            opt.put("exp_avg_sq." + e.getKey(), Tensor.of(sq, sq.length));
        }
        SafeTensorsWriter.write(tmp.resolve("optimizer.safetensors"), opt,
                Map.of("step", Long.toString(optimizerStep)));
        JsonObject rng = new JsonObject();
        rng.addProperty("batch_cursor", batchCursor);
        AtomicFiles.writeString(tmp.resolve("rng_state.json"), GSON.toJson(rng) + "\n");
        JsonObject state = new JsonObject();
        state.addProperty("global_step", globalStep);
        state.addProperty("max_steps", maxSteps);
        state.add("log_history", logHistory);
        AtomicFiles.writeString(tmp.resolve("trainer_state.json"), GSON.toJson(state) + "\n");
        if (extra != null) {
            extra.write(tmp);
        }
        deleteTree(target);
        AtomicFiles.moveIntoPlace(tmp, target);
        return target;
    }

    static Checkpoint read(Path dir) throws IOException {
        JsonObject state = JsonParser.parseString(Files.readString(dir.resolve("trainer_state.json"),
                StandardCharsets.UTF_8)).getAsJsonObject();
        JsonObject rng = JsonParser.parseString(Files.readString(dir.resolve("rng_state.json"),
                StandardCharsets.UTF_8)).getAsJsonObject();
        Map<String, Tensor> weights = new LinkedHashMap<>();
        try (SafeTensors st = SafeTensors.open(dir.resolve("model.safetensors"))) {
            for (String k : st.keys()) {
                weights.put(k, st.get(k).copy());
            }
        }
        Map<String, float[]> m = new LinkedHashMap<>();
        Map<String, float[]> v = new LinkedHashMap<>();
        long optStep;
        try (SafeTensors st = SafeTensors.open(dir.resolve("optimizer.safetensors"))) {
            optStep = Long.parseLong(st.metadata().get("step"));
            for (String k : st.keys()) {
                if (k.startsWith("exp_avg_sq.")) {
                    v.put(k.substring("exp_avg_sq.".length()), st.get(k).toFloatArray());
                } else if (k.startsWith("exp_avg.")) {
                    m.put(k.substring("exp_avg.".length()), st.get(k).toFloatArray());
                }
            }
        }
        return new Checkpoint(state.get("global_step").getAsLong(), state.get("max_steps").getAsLong(),
                rng.get("batch_cursor").getAsLong(), optStep, weights, m, v, state.getAsJsonArray("log_history"));
    }

    /** Deletes the oldest {@code checkpoint-N} folders so that at most {@code limit} remain. */
    static void rotate(Path outputDir, int limit) throws IOException {
        rotate(outputDir, limit, null);
    }

    /**
     * As transformers' {@code rotate_checkpoints}: deletes the oldest {@code checkpoint-N} folders until at most
     * {@code limit} remain, never the newest nor {@code keep} (when not null), so with both protected two remain
     * even at limit 1. A limit of 0 or less deletes nothing.
     */
    static void rotate(Path outputDir, int limit, Path keep) throws IOException {
        if (limit <= 0) {
            return;
        }
        List<Path> all = new ArrayList<>();
        try (Stream<Path> s = Files.list(outputDir)) {
            s.filter(p -> p.getFileName().toString().matches(PREFIX + "\\d+") && Files.isDirectory(p))
                    .forEach(all::add);
        }
        if (all.size() <= limit) {
            return;
        }
        all.sort(Comparator.comparingLong(p -> Long.parseLong(p.getFileName().toString().substring(PREFIX.length()))));
        java.util.Set<Path> protect = new java.util.HashSet<>();
        protect.add(all.get(all.size() - 1).toAbsolutePath().normalize());
        if (keep != null) {
            protect.add(keep.toAbsolutePath().normalize());
        }
        int remaining = all.size();
        int toKeep = Math.max(limit, protect.size());
        for (Path p : all) {
            if (remaining <= toKeep) {
                break;
            }
            if (!protect.contains(p.toAbsolutePath().normalize())) {
                deleteTree(p);
                remaining--;
            }
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path x : s.sorted(Comparator.reverseOrder()).toArray(Path[]::new)) {
                Files.delete(x);
            }
        }
    }
}
