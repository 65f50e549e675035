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
import org.peft4j.util.FolderSave;

/**
 * A training checkpoint folder {@code output_dir/checkpoint-N/}: trainable weights ({@code model.safetensors}),
 * the optimizer's state tensors with its step, {@code optim} name and state format in the metadata
 * ({@code optimizer.safetensors}: {@code exp_avg.P} / {@code exp_avg_sq.P} for torch's AdamW; bitsandbytes'
 * {@code state1.P} / {@code state2.P} (uint8 codes or float32) and {@code absmax1.P} / {@code absmax2.P} for its
 * optimizers; a checkpoint without the metadata is torch's AdamW), the data position ({@code rng_state.json}) and
 * {@code trainer_state.json}, plus whatever the trainer's extra writer adds (a PEFT model's adapter files). The folder
 * is written under a temporary name and renamed into place, an older one of the same step moved aside first, and
 * rotation renames a folder away before deleting it, so a crash never leaves a half-written folder under a
 * {@code checkpoint-N} name ({@link CheckpointFolders#recover} tidies up after one).
 */
final class Checkpoint {
    static final String PREFIX = "checkpoint-";
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().create();

    final long globalStep;
    final long maxSteps;
    final long batchCursor;
    /** The state format of checkpoints written before the metadata named it: torch's AdamW. */
    static final String LEGACY_OPTIM = "adamw_torch";

    final long optimizerStep;
    final String optim;
    final String stateFormat;
    final Map<String, Tensor> weights;
    final Map<String, Tensor> optimizerState;
    final JsonArray logHistory;

    Checkpoint(long globalStep, long maxSteps, long batchCursor, long optimizerStep, String optim, String stateFormat,
            Map<String, Tensor> weights, Map<String, Tensor> optimizerState, JsonArray logHistory) {
        this.globalStep = globalStep;
        this.maxSteps = maxSteps;
        this.batchCursor = batchCursor;
        this.optimizerStep = optimizerStep;
        this.optim = optim;
        this.stateFormat = stateFormat;
        this.weights = weights;
        this.optimizerState = optimizerState;
        this.logHistory = logHistory;
    }

    /** A checkpoint of {@code optimizer}'s current state. */
    static Checkpoint of(long globalStep, long maxSteps, long batchCursor, Optimizer optimizer,
            Map<String, Tensor> weights, JsonArray logHistory) {
        return new Checkpoint(globalStep, maxSteps, batchCursor, optimizer.step(), optimizer.name().value(),
                optimizer.stateFormat(), weights, optimizer.stateTensors(), logHistory);
    }

    /**
     * Restores this checkpoint's optimizer state into {@code optimizer}.
     *
     * @throws IllegalArgumentException when the checkpoint was written by an optimizer whose states mean something
     *     else (another {@code optim}, other than an alias or the paged / unpaged twin)
     */
    void restoreOptimizer(Optimizer optimizer, Path dir) {
        if (!stateFormat.equals(optimizer.stateFormat())) {
            throw new IllegalArgumentException(dir + " was saved with optim '" + optim + "', whose optimizer state ("
                    + stateFormat + ") this run's optim '" + optimizer.name() + "' (" + optimizer.stateFormat()
                    + ") cannot continue; resume with optim='" + optim + "' or start a new run");
        }
        optimizer.loadState(optimizerStep, optimizerState);
    }

    /** Files written into the checkpoint folder besides the trainer's own (before it is renamed into place). */
    interface ExtraFiles {
        void write(Path checkpointDir) throws IOException;
    }

    Path write(Path outputDir) throws IOException {
        return write(outputDir, null);
    }

    Path write(Path outputDir, ExtraFiles extra) throws IOException {
        Files.createDirectories(outputDir);
        CheckpointFolders.recover(outputDir);
        Path target = outputDir.resolve(PREFIX + globalStep);
        Path tmp = outputDir.resolve("." + PREFIX + globalStep + CheckpointFolders.TMP);
        deleteTree(tmp);
        Files.createDirectories(tmp);
        SafeTensorsWriter.write(tmp.resolve("model.safetensors"), weights, SafeTensorsWriter.PT_METADATA);
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("step", Long.toString(optimizerStep));
        meta.put("optim", optim);
        meta.put("state_format", stateFormat);
        SafeTensorsWriter.write(tmp.resolve("optimizer.safetensors"), optimizerState, meta);
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
        FolderSave.fsyncDirectory(tmp);
        CheckpointFolders.hook.at("written");
        // a checkpoint of the same step (a resumed run) moves aside first; recover() puts it back if the new one
        // never arrives, and deletes it once the new one is in place
        Path old = outputDir.resolve("." + PREFIX + globalStep + CheckpointFolders.OLD);
        if (Files.exists(target)) {
            deleteTree(old);
            AtomicFiles.moveIntoPlace(target, old);
            FolderSave.fsyncDirectory(outputDir);
            CheckpointFolders.hook.at("moved aside");
        }
        AtomicFiles.moveIntoPlace(tmp, target);
        FolderSave.fsyncDirectory(outputDir);
        CheckpointFolders.hook.at("renamed");
        deleteTree(old);
        return target;
    }

    static Checkpoint read(Path dir) throws IOException {
        Path parent = dir.toAbsolutePath().getParent();
        if (parent != null && Files.isDirectory(parent)) {
            CheckpointFolders.recover(parent);
        }
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
        Map<String, Tensor> opt = new LinkedHashMap<>();
        long optStep;
        String optim;
        String format;
        try (SafeTensors st = SafeTensors.open(dir.resolve("optimizer.safetensors"))) {
            Map<String, String> meta = st.metadata();
            optStep = Long.parseLong(meta.get("step"));
            optim = meta.getOrDefault("optim", LEGACY_OPTIM);
            format = meta.getOrDefault("state_format", OptimizerNames.of(LEGACY_OPTIM).stateFormat());
            for (String k : st.keys()) {
                opt.put(k, st.get(k).copy());
            }
        }
        return new Checkpoint(state.get("global_step").getAsLong(), state.get("max_steps").getAsLong(),
                rng.get("batch_cursor").getAsLong(), optStep, optim, format, weights, opt,
                state.getAsJsonArray("log_history"));
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
                // renamed out of the checkpoint-N namespace first, so that a crash never leaves half a checkpoint
                // under its final name; recover() deletes what a crash leaves of it
                Path gone = outputDir.resolve("." + p.getFileName() + CheckpointFolders.DELETED);
                deleteTree(gone);
                AtomicFiles.moveIntoPlace(p, gone);
                FolderSave.fsyncDirectory(outputDir);
                CheckpointFolders.hook.at("rotated " + p.getFileName());
                deleteTree(gone);
                remaining--;
            }
        }
    }

    static void deleteTree(Path p) throws IOException {
        FolderSave.deleteTree(p);
    }
}
