package org.peft4j.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.peft4j.util.AtomicFiles;
import org.peft4j.util.FolderSave;

/**
 * The {@code checkpoint-N} folders of a trainer's output folder. A {@code checkpoint-N} name only ever appears by
 * renaming a complete folder into place, so every such folder is complete; {@link #recover} tidies up what a crash
 * leaves beside them: an unfinished {@code .checkpoint-N.tmp} (deleted), a rotated {@code .checkpoint-N.del}
 * (deleted) and an earlier checkpoint of the same step moved aside as {@code .checkpoint-N.old} (deleted when the
 * new one is in place, renamed back when it is not). The trainer runs it before each checkpoint and on resume.
 */
public final class CheckpointFolders {
    static final String TMP = ".tmp";
    static final String OLD = ".old";
    static final String DELETED = ".del";
    private static final Pattern NAME = Pattern.compile("checkpoint-(\\d+)");
    private static final Pattern LEFTOVER = Pattern.compile("\\.(checkpoint-\\d+)(\\.tmp|\\.old|\\.del)");

    /** Test hook: called at each step of a checkpoint write or rotation; a test throws from it to simulate a crash. */
    interface Hook {
        void at(String step) throws IOException;
    }

    static volatile Hook hook = step -> { };

    private CheckpointFolders() {
    }

    /**
     * Brings {@code outputDir} back to complete {@code checkpoint-N} folders only, after a crash during a checkpoint
     * write or rotation (see the class comment). Does nothing when the folder does not exist.
     */
    public static void recover(Path outputDir) {
        try {
            if (!Files.isDirectory(outputDir)) {
                return;
            }
            List<Path> leftovers = new ArrayList<>();
            try (Stream<Path> s = Files.list(outputDir)) {
                s.filter(p -> LEFTOVER.matcher(p.getFileName().toString()).matches()).forEach(leftovers::add);
            }
            for (Path p : leftovers) {
                Matcher m = LEFTOVER.matcher(p.getFileName().toString());
                m.matches();
                Path finalName = outputDir.resolve(m.group(1));
                if (m.group(2).equals(OLD) && !Files.exists(finalName)) {
                    AtomicFiles.moveIntoPlace(p, finalName);
                    FolderSave.fsyncDirectory(outputDir);
                } else {
                    FolderSave.deleteTree(p);
                }
            }
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.of("recover", outputDir, e);
        }
    }

    /**
     * The complete {@code checkpoint-N} folder with the largest N in {@code outputDir} (transformers'
     * {@code get_last_checkpoint}), after {@link #recover}; a folder without {@code trainer_state.json} (not
     * written by a trainer) is passed over.
     */
    public static Optional<Path> latest(Path outputDir) {
        if (!Files.isDirectory(outputDir)) {
            return Optional.empty();
        }
        try {
            recover(outputDir);
            try (Stream<Path> s = Files.list(outputDir)) {
                return s.filter(p -> NAME.matcher(p.getFileName().toString()).matches())
                        .filter(p -> Files.isRegularFile(p.resolve("trainer_state.json")))
                        .max(Comparator.comparingLong(CheckpointFolders::step));
            }
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.wrapping("cannot list the checkpoints in " + outputDir, outputDir, e);
        }
    }

    /** N of {@code checkpoint-N}, or -1 for another name. */
    static long step(Path checkpoint) {
        Matcher m = NAME.matcher(checkpoint.getFileName().toString());
        if (!m.matches()) {
            return -1;
        }
        try {
            return Long.parseLong(m.group(1));
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
