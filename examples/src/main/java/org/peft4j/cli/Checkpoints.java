package org.peft4j.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * {@code --resume-from-checkpoint} as transformers reads it: a checkpoint folder, or {@code true} (here also
 * {@code latest}) for the newest {@code checkpoint-N} folder in the output folder.
 */
final class Checkpoints {
    private static final Pattern NAME = Pattern.compile("checkpoint-(\\d+)");

    private Checkpoints() {
    }

    /** The checkpoint to resume from, or null for a fresh run ({@code value} null or {@code false}). */
    static Path resolve(String value, Path outputDir) {
        if (value == null) {
            return null;
        }
        String v = value.strip().toLowerCase(Locale.ROOT);
        if (v.equals("false")) {
            return null;
        }
        if (v.equals("true") || v.equals("latest")) {
            return latest(outputDir).orElseThrow(() -> new CliException("--resume-from-checkpoint " + value
                    + ": no valid checkpoint found in output directory (" + outputDir + "): expected a "
                    + "checkpoint-N folder"));
        }
        Path dir = Path.of(value);
        ModelPaths.requireFolder(dir, "--resume-from-checkpoint", "a checkpoint-N folder written by finetune");
        if (!Files.isRegularFile(dir.resolve("trainer_state.json"))) {
            throw new CliException("--resume-from-checkpoint " + dir + ": not a checkpoint (no trainer_state.json; "
                    + "expected a checkpoint-N folder written by finetune)");
        }
        return dir;
    }

    /** The {@code checkpoint-N} folder with the largest N that holds a {@code trainer_state.json}. */
    static Optional<Path> latest(Path outputDir) {
        if (!Files.isDirectory(outputDir)) {
            return Optional.empty();
        }
        try {
            org.peft4j.train.CheckpointFolders.recover(outputDir); // a crashed checkpoint write or rotation
        } catch (org.peft4j.FileAccessException e) {
            throw new UncheckedIOException("cannot recover the checkpoints in " + outputDir,
                    (IOException) e.getCause());
        }
        try (Stream<Path> s = Files.list(outputDir)) {
            return s.filter(p -> NAME.matcher(p.getFileName().toString()).matches())
                    .filter(p -> Files.isRegularFile(p.resolve("trainer_state.json")))
                    .max(Comparator.comparingLong(Checkpoints::step));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + outputDir, e);
        }
    }

    /** N of {@code checkpoint-N}. */
    static long step(Path checkpoint) {
        var m = NAME.matcher(checkpoint.getFileName().toString());
        return m.matches() ? Long.parseLong(m.group(1)) : -1;
    }
}
