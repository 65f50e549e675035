package org.peft4j.train;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where optimizer states live: the Java heap, or pages of a memory-mapped temporary file (a paged optimizer). Every
 * buffer is zero-filled and little-endian. Closing a mapped memory closes and deletes its file; the buffers handed
 * out must not be used afterwards.
 */
abstract class StateMemory implements AutoCloseable {
    private long allocated;

    /** A zero-filled buffer of {@code bytes} bytes. */
    final ByteBuffer allocate(long bytes) {
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("an optimizer state of " + bytes
                    + " bytes exceeds the 2 GiB limit of one buffer");
        }
        ByteBuffer b = doAllocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
        allocated += bytes;
        return b;
    }

    /** Bytes handed out so far. */
    final long allocated() {
        return allocated;
    }

    abstract ByteBuffer doAllocate(int bytes);

    /** The backing file of a mapped memory (null on the heap). */
    Path file() {
        return null;
    }

    @Override
    public abstract void close();

    static StateMemory heap() {
        return new StateMemory() {
            @Override
            ByteBuffer doAllocate(int bytes) {
                return ByteBuffer.allocate(bytes);
            }

            @Override
            public void close() {
            }
        };
    }

    /** States in a new temporary file in {@code dir} ({@code java.io.tmpdir} when null), mapped read-write. */
    static StateMemory mapped(Path dir) {
        try {
            Path folder = dir != null ? dir : Path.of(System.getProperty("java.io.tmpdir"));
            Files.createDirectories(folder);
            Path file = Files.createTempFile(folder, "peft4j-paged-optimizer-", ".bin");
            return new Mapped(file);
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.wrapping("could not create the paged optimizer's state file in "
                    + (dir != null ? dir : System.getProperty("java.io.tmpdir")), dir, e);
        }
    }

    private static final class Mapped extends StateMemory {
        private final Path file;
        private final RandomAccessFile raf;
        private final FileChannel channel;
        private long end;
        private boolean closed;

        Mapped(Path file) throws IOException {
            this.file = file;
            this.raf = new RandomAccessFile(file.toFile(), "rw");
            this.channel = raf.getChannel();
        }

        @Override
        Path file() {
            return file;
        }

        @Override
        ByteBuffer doAllocate(int bytes) {
            if (closed) {
                throw new IllegalStateException("the paged optimizer's state file is closed");
            }
            try {
                // page-aligned regions: a new region never shares a page with the previous one
                long start = (end + 4095) & ~4095L;
                raf.setLength(start + bytes); // the new bytes read as zero (a sparse extension)
                ByteBuffer b = channel.map(FileChannel.MapMode.READ_WRITE, start, bytes);
                end = start + bytes;
                return b;
            } catch (IOException e) {
                throw org.peft4j.FileAccessException.wrapping("could not map " + bytes + " bytes of " + file, file, e);
            }
        }

        @Override
        public void close() {
            if (closed) {
                return;
            }
            closed = true;
            try {
                channel.close();
                raf.close();
            } catch (IOException e) {
                // closing a file we only read and wrote through mappings: nothing to flush
            }
            try {
                Files.deleteIfExists(file);
            } catch (IOException e) {
                file.toFile().deleteOnExit(); // a platform that keeps mapped files locked (Windows)
            }
        }
    }
}
