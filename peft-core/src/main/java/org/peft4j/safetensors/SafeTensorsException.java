package org.peft4j.safetensors;

import java.nio.file.Path;
import org.peft4j.InvalidInputException;

/**
 * A safetensors file, shard index or checkpoint directory is malformed or inconsistent.
 *
 * <p>An unchecked {@link InvalidInputException} (peft4j's type for inputs it cannot use); methods that open files
 * still declare {@link java.io.IOException} for files that cannot be read at all. The message always starts with the
 * offending file and,
 * where it applies, names the tensor and the header field and says what was expected, for example
 * {@code "/models/x.safetensors: tensor 'w': field 'shape': expected an array of non-negative integers, got [2,-1]"}.
 * {@link #file()} and {@link #tensor()} give the same facts to programs.
 */
public class SafeTensorsException extends InvalidInputException {
    private static final long serialVersionUID = 1L;

    private final String tensor;

    /**
     * A malformed or inconsistent safetensors input.
     *
     * @param file   the file at fault (a safetensors file, an index json or a directory)
     * @param tensor the tensor at fault, or {@code null} when the problem is not about one tensor
     * @param detail what is wrong, without the file and tensor (they are prepended)
     */
    public SafeTensorsException(Path file, String tensor, String detail) {
        this(file, tensor, detail, null);
    }

    /**
     * As {@link #SafeTensorsException(Path, String, String)} with a cause.
     *
     * @param file   the file at fault (a safetensors file, an index json or a directory)
     * @param tensor the tensor at fault, or {@code null} when the problem is not about one tensor
     * @param detail what is wrong, without the file and tensor (they are prepended)
     * @param cause  the underlying failure, or {@code null}
     */
    public SafeTensorsException(Path file, String tensor, String detail, Throwable cause) {
        super(format(file, tensor, detail), file, null, cause);
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

    /**
     * The tensor the problem is about.
     *
     * @return the tensor name, or {@code null}
     */
    public String tensor() {
        return tensor;
    }
}
