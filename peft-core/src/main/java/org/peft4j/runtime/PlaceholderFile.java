package org.peft4j.runtime;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.peft4j.graph.OnnxExporter;

/**
 * The sparse file that initializer placeholders name as their external data. ORT validates that it exists and is
 * long enough, then takes the real weights from {@code addInitializer}; the file is never read and, being sparse,
 * uses no disk.
 */
final class PlaceholderFile {
    private static Path folder;
    private static long length;

    private PlaceholderFile() {
    }

    /** A folder holding a placeholder file of at least {@code bytes} bytes. */
    static synchronized Path folder(long bytes) {
        try {
            if (folder == null) {
                folder = Files.createTempDirectory("peft4j-ort-");
                folder.toFile().deleteOnExit();
                folder.resolve(OnnxExporter.PLACEHOLDER_FILE).toFile().deleteOnExit();
            }
            if (bytes > length) {
                try (RandomAccessFile f = new RandomAccessFile(folder.resolve(OnnxExporter.PLACEHOLDER_FILE).toFile(),
                        "rw")) {
                    f.setLength(bytes);
                }
                length = bytes;
            }
            return folder;
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.wrapping("could not create the initializer placeholder file", null, e);
        }
    }
}
