package org.peft4j;

import java.nio.file.Path;

/**
 * A configuration that cannot be used: a model's {@code config.json}, an adapter's {@code adapter_config.json}, a
 * {@code generation_config.json} or a {@code tokenizer_config.json} that is malformed or holds a value of the wrong
 * type or range. The message names the file and the field and, where PEFT or transformers refuse the same value,
 * uses their text.
 */
public class ConfigException extends InvalidInputException {
    private static final long serialVersionUID = 1L;

    /**
     * A bad configuration found in a file.
     *
     * @param message the error text, which already names the file and field
     * @param file the config file, or {@code null} for a config built in code
     * @param field the JSON key at fault, or {@code null}
     * @param cause the underlying failure, or {@code null}
     */
    public ConfigException(String message, Path file, String field, Throwable cause) {
        super(message, file, field, cause);
    }

    /**
     * A config file refused by a config class's own validation (PEFT's or transformers' {@code ValueError}, thrown
     * in Java as an {@link IllegalArgumentException} by {@code fromJson} / {@code fromConfig}): keeps its message,
     * which names the file, and takes the field from its {@code field 'name'} part.
     *
     * @param file the config file
     * @param cause the validation error
     */
    public ConfigException(Path file, IllegalArgumentException cause) {
        this(cause.getMessage(), file, fieldOf(cause.getMessage()), cause);
    }

    private static String fieldOf(String message) {
        if (message == null) {
            return null;
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("field '([^']+)'").matcher(message);
        return m.find() ? m.group(1) : null;
    }
}
