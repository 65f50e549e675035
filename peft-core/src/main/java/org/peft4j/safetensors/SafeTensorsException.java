package org.peft4j.safetensors;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A safetensors file, shard index or checkpoint directory is malformed or inconsistent.
 *
 * <p>This is a checked {@link IOException}: a bad file is an input problem of the same kind as an unreadable one, and
 * callers that open files already handle {@code IOException}. The message always starts with the offending file and,
 * where it applies, names the tensor and the header field and says what was expected, for example
 * {@code "/models/x.safetensors: tensor 'w': field 'shape': expected an array of non-negative integers, got [2,-1]"}.
 * {@link #file()} and {@link #tensor()} give the same facts to programs.
 */
public class SafeTensorsException extends IOException {
    private static final long serialVersionUID = 1L;

    private final transient Path file;
    private final String tensor;

    /**
     * @param file   the file at fault (a safetensors file, an index json or a directory)
     * @param tensor the tensor at fault, or {@code null} when the problem is not about one tensor
     * @param detail what is wrong, without the file and tensor (they are prepended)
     */
    public SafeTensorsException(Path file, String tensor, String detail) {
        this(file, tensor, detail, null);
    }

    /** As {@link #SafeTensorsException(Path, String, String)} with a cause. */
    public SafeTensorsException(Path file, String tensor, String detail, Throwable cause) {
        super(format(file, tensor, detail), cause);
        this.file = file;
        this.tensor = tensor;
    }

    private static String format(Path file, String tensor, String detail) {
        StringBuilder sb = new StringBuilder();
        sb.append(file);
        if (tensor != null) {
            sb.append(": tensor '").append(tensor).append('\'');
        }
        return sb.append(": ").append(detail).toString();
    }

    /** The file (or directory) the problem was found in. */
    public Path file() {
        return file;
    }

    /** The tensor the problem is about, or {@code null}. */
    public String tensor() {
        return tensor;
    }
}
