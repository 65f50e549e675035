package org.peft4j;

/**
 * The common unchecked type of peft4j's own errors: catch it to handle what the library refuses (inputs it cannot
 * use, a model and a tokenizer that do not fit together) apart from bugs and the JDK's own exceptions.
 *
 * <p>Subtypes:
 * <ul>
 *   <li>{@link InvalidInputException}: a file or value the library cannot use, with {@code file()} and
 *       {@code field()}; its subtypes {@link ConfigException} (config.json, adapter_config.json, ...),
 *       {@link org.peft4j.safetensors.SafeTensorsException} (weights) and
 *       {@link org.peft4j.data.DataFormatException} (training data);</li>
 *   <li>{@link FileAccessException}: a file or folder that cannot be read, written, renamed or deleted at all
 *       (missing, no permission, disk full), with {@code file()} and the {@link java.io.IOException} as cause;</li>
 *   <li>{@link RuntimeFailureException}: ONNX Runtime failed to create or run a session (the message names the
 *       graph and the inputs' shapes, the cause is the {@code OrtException}); its subtype
 *       {@link org.peft4j.runtime.DeviceUnavailableException} (CUDA could not be started).</li>
 * </ul>
 *
 * <p>No public method of the library declares a checked exception. Argument checks in code (a builder value out of range, a call in
 * the wrong state) throw {@link IllegalArgumentException} or {@link IllegalStateException} with the message PEFT
 * or transformers gives for the same case.
 */
public class Peft4jException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * An error with a message that says what is wrong and what to do.
     *
     * @param message the error text
     */
    public Peft4jException(String message) {
        super(message);
    }

    /**
     * An error caused by another one (an ONNX Runtime or I/O failure), with the context it happened in.
     *
     * @param message the error text
     * @param cause the underlying failure
     */
    public Peft4jException(String message, Throwable cause) {
        super(message, cause);
    }
}
