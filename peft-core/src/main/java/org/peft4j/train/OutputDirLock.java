package org.peft4j.train;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An exclusive lock on a training run's {@code output_dir}: a {@link FileLock} on {@code output_dir/.trainer.lock},
 * so that two runs (in this or another process) never write checkpoints and logs into one folder. The lock file
 * stays after release (deleting it would let a waiting and a new run lock two different files).
 */
final class OutputDirLock implements AutoCloseable {
    static final String FILE = ".trainer.lock";

    /**
     * Folders locked by this JVM. Checked before the lock file is opened: on POSIX systems closing any channel on
     * the file would drop this process's lock on it, so a refused second run must not open (and close) it.
     */
    private static final Set<Path> HELD = ConcurrentHashMap.newKeySet();

    private final Path dir;
    private final FileChannel channel;
    private final FileLock lock;

    private OutputDirLock(Path dir, FileChannel channel, FileLock lock) {
        this.dir = dir;
        this.channel = channel;
        this.lock = lock;
    }

    /** Locks {@code outputDir} (created if missing) or fails naming it when another run holds it. */
    static OutputDirLock acquire(Path outputDir) {
        Path dir;
        try {
            Files.createDirectories(outputDir);
            dir = outputDir.toRealPath();
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.wrapping("could not create output_dir " + outputDir, outputDir, e);
        }
        if (!HELD.add(dir)) {
            throw inUse(outputDir);
        }
        FileChannel channel = null;
        try {
            channel = FileChannel.open(dir.resolve(FILE), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                throw inUse(outputDir);
            }
            return new OutputDirLock(dir, channel, lock);
        } catch (IOException | RuntimeException e) {
            HELD.remove(dir);
            if (channel != null) {
                try {
                    channel.close();
                } catch (IOException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            if (e instanceof IOException) {
                throw org.peft4j.FileAccessException.wrapping("could not lock output_dir " + outputDir + " (" + FILE + ")",
                        outputDir, (IOException) e);
            }
            throw (RuntimeException) e;
        }
    }

    private static IllegalStateException inUse(Path outputDir) {
        return new IllegalStateException("output_dir " + outputDir + " is in use by another training run (its "
                + FILE + " is locked); give this run another output_dir or wait until that run ends");
    }

    @Override
    public void close() {
        try {
            lock.release();
            channel.close();
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.wrapping("could not release the lock on output_dir " + dir, dir, e);
        } finally {
            HELD.remove(dir);
        }
    }
}
