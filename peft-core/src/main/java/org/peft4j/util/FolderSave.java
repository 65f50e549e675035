package org.peft4j.util;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Replaces a set of files in a folder as one unit: after a crash at any moment the folder holds the complete old
 * set or the complete new set, or a journal from which the next {@link #recover} (run by every peft4j load and
 * save of the folder) completes the new one.
 *
 * <p>Protocol: the new files are written under {@code dir/.peft4j-save/files/} (each forced to disk); then the
 * commit marker {@code dir/.peft4j-save/commit}, which lists them, is written atomically: that rename is the commit
 * point. Before it, the folder is the old version and the staging folder is garbage that the next save deletes;
 * after it, the files are renamed into place one by one (each rename atomic, repeated rename of an already moved
 * file skipped), the marker is deleted and the staging folder removed. A recovery repeats the same roll-forward, so
 * it is idempotent. Only renames inside one folder tree are used, which are atomic on the file systems of Linux,
 * macOS and Windows. Files of the old version that the new one does not write stay, as with PEFT's
 * {@code save_pretrained}; after a successful save nothing but the written files is left (the staging folder is
 * hidden and removed, and transformers / PEFT ignore such a folder anyway).
 *
 * <p>One save at a time per folder (the trainer locks its output folder); not thread-safe.
 */
public final class FolderSave implements AutoCloseable {
    /** The staging folder's name inside the saved folder. */
    public static final String STAGING = ".peft4j-save";
    static final String FILES = "files";
    static final String COMMIT = "commit";
    /** Temporary files of the per-file writers ({@code .name.<hex digits>.tmp}), left behind by a crash. */
    private static final Pattern TEMP_SUFFIX = Pattern.compile("\\.[0-9a-f]+\\.tmp");

    /** Test hook: called at each step of a commit; a test throws from it to simulate a crash there. */
    interface Hook {
        void at(String step) throws IOException;
    }

    static volatile Hook hook = step -> { };

    private final Path dir;
    private final Path staging;
    private final Set<String> written = new LinkedHashSet<>();
    private boolean committed;

    private FolderSave(Path dir) {
        this.dir = dir;
        this.staging = dir.resolve(STAGING);
    }

    /**
     * Starts replacing files in {@code dir} (created if missing): completes or discards what an interrupted earlier
     * save left and deletes stray temporary files of the per-file writers.
     */
    public static FolderSave begin(Path dir) {
        try {
            Files.createDirectories(dir);
            recover(dir);
            deleteTree(dir.resolve(STAGING));
            FolderSave s = new FolderSave(dir);
            Files.createDirectories(s.staging.resolve(FILES));
            return s;
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.of("write", dir, e);
        }
    }

    /**
     * Where to write the new version of {@code relative} (a path inside the folder, e.g. {@code "a/x.json"}); its
     * parent folders are created. Write it with a writer that forces it to disk ({@link AtomicFiles},
     * {@code SafeTensorsWriter}).
     */
    public Path file(String relative) {
        try {
            Path target = dir.resolve(relative).normalize();
            if (!target.startsWith(dir.normalize()) || target.equals(dir.normalize()) || relative.contains("\\")) {
                throw new IllegalArgumentException("not a file inside " + dir + ": " + relative);
            }
            String rel = dir.normalize().relativize(target).toString().replace('\\', '/');
            if (rel.equals(STAGING) || rel.startsWith(STAGING + "/")) {
                throw new IllegalArgumentException("reserved name: " + relative);
            }
            written.add(rel);
            Path p = staging.resolve(FILES).resolve(rel);
            Files.createDirectories(p.getParent());
            cleanTempFiles(target.getParent(), target.getFileName().toString());
            return p;
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.of("write", dir, e);
        }
    }

    /** Commits: after this returns, the folder holds the new files. */
    public void commit() {
        try {
            hook.at("staged");
            for (String rel : written) {
                Path p = staging.resolve(FILES).resolve(rel);
                if (!Files.isRegularFile(p)) {
                    throw new NoSuchFileException(p.toString(), null, "FolderSave: a file announced was not written");
                }
                fsyncDirectory(p.getParent());
            }
            AtomicFiles.writeString(staging.resolve(COMMIT), String.join("\n", written) + "\n");
            fsyncDirectory(staging);
            committed = true;
            hook.at("committed");
            rollForward(dir);
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.of("write", dir, e);
        }
    }

    /** Discards the staged files when {@link #commit} was not reached. */
    @Override
    public void close() {
        if (!committed) {
            deleteTree(staging);
        }
    }

    /**
     * Completes a save of {@code dir} that was interrupted after its commit point; an uncommitted one is left for the
     * next save to delete (it does not change what the folder holds). Costs one file lookup when there is nothing to
     * do.
     *
     * @throws org.peft4j.FileAccessException naming the folder when the interrupted save cannot be completed (e.g.
     *     read-only)
     */
    public static void recover(Path dir) {
        if (Files.isRegularFile(dir.resolve(STAGING).resolve(COMMIT))) {
            try {
                rollForward(dir);
            } catch (IOException | org.peft4j.FileAccessException e) {
                throw new org.peft4j.FileAccessException("cannot complete the interrupted save in " + dir + ": "
                        + (e instanceof IOException ? e.toString() : e.getCause().toString()), dir,
                        e instanceof IOException io ? io : (IOException) e.getCause());
            }
        }
    }

    private static void rollForward(Path dir) throws IOException {
        Path staging = dir.resolve(STAGING);
        Path marker = staging.resolve(COMMIT);
        List<String> files = new ArrayList<>();
        for (String line : Files.readAllLines(marker, StandardCharsets.UTF_8)) {
            if (!line.isEmpty()) {
                files.add(line);
            }
        }
        Set<Path> dirs = new LinkedHashSet<>();
        int i = 0;
        for (String rel : files) {
            Path from = staging.resolve(FILES).resolve(rel);
            Path to = dir.resolve(rel);
            if (Files.exists(from)) {
                Files.createDirectories(to.getParent());
                try {
                    AtomicFiles.moveIntoPlace(from, to);
                } catch (org.peft4j.FileAccessException e) {
                    if (!(e.getCause() instanceof NoSuchFileException) || Files.exists(from)) {
                        throw e;
                    }
                    // moved meanwhile by a concurrent recovery
                }
                dirs.add(to.getParent());
            }
            hook.at("moved " + (++i));
        }
        for (Path d : dirs) {
            fsyncDirectory(d);
        }
        Files.deleteIfExists(marker);
        fsyncDirectory(staging);
        hook.at("unmarked");
        deleteTree(staging);
    }

    /**
     * Deletes the {@code .<name>.<hex>.tmp} files that a crashed per-file write of {@code name} ({@link AtomicFiles},
     * {@code SafeTensorsWriter}, or an earlier peft4j) left in {@code folder}.
     */
    static void cleanTempFiles(Path folder, String name) throws IOException {
        if (!Files.isDirectory(folder)) {
            return;
        }
        String prefix = "." + name;
        try (Stream<Path> s = Files.list(folder)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String n = p.getFileName().toString();
                if (n.startsWith(prefix) && TEMP_SUFFIX.matcher(n.substring(prefix.length())).matches()
                        && Files.isRegularFile(p)) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /** Forces a folder's entries (renames, new files) to disk where the platform allows it (not on Windows). */
    public static void fsyncDirectory(Path d) {
        try (FileChannel ch = FileChannel.open(d, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | RuntimeException e) {
            // Windows cannot open a folder as a channel; its renames are journaled by NTFS
        }
    }

    /** Deletes a file tree if it exists. */
    public static void deleteTree(Path p) {
        try {
            if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                return;
            }
            try (Stream<Path> s = Files.walk(p)) {
                for (Path x : s.sorted(Comparator.reverseOrder()).toArray(Path[]::new)) {
                    Files.deleteIfExists(x);
                }
            }
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.of("delete", p, e);
        }
    }
}
