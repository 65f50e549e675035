package org.peft4j;

import java.nio.file.Path;

/**
 * An input the library cannot use: a file (safetensors weights, a config, a tokenizer, a data file) or a value that
 * is malformed, out of range or inconsistent. The message names the file and, where it applies, the field (for
 * example {@code "/m/config.json: field 'hidden_size': expected a positive integer, got -1"}); {@link #file()} and
 * {@link #field()} give the same facts to programs.
 *
 * <p>Subtypes: {@link ConfigException} (a model, adapter or generation config),
 * {@link org.peft4j.safetensors.SafeTensorsException} (a weights file) and {@link org.peft4j.data.DataFormatException}
 * (a training data file). A file that cannot be read at all (missing, no permission) is a
 * {@link FileAccessException} instead.
 */
public class InvalidInputException extends Peft4jException {
    private static final long serialVersionUID = 1L;

    private final transient Path file;
    private final String field;

    /**
     * An invalid input whose message already says everything (no separate file or field).
     *
     * @param message the error text
     */
    public InvalidInputException(String message) {
        this(message, null, null, null);
    }

    /**
     * An invalid input with the file and field it was found in.
     *
     * @param message the error text, which already names the file and field
     * @param file the file at fault, or {@code null} when the input is not a file
     * @param field the field (a JSON key or path such as {@code normalizer.normalizers[1]}), or {@code null}
     * @param cause the underlying failure, or {@code null}
     */
    public InvalidInputException(String message, Path file, String field, Throwable cause) {
        super(message, cause);
        this.file = file;
        this.field = field;
    }

    /**
     * The file the problem was found in.
     *
     * @return the file (or directory), or {@code null} when not known or not a file
     */
    public Path file() {
        return file;
    }

    /**
     * The field the problem is about.
     *
     * @return the field name or path, or {@code null} when the problem is not about one field
     */
    public String field() {
        return field;
    }
}
