package org.peft4j;

/**
 * The common unchecked type of peft4j's own errors: catch it to handle what the library refuses (inputs it cannot
 * use, a model and a tokenizer that do not fit together) apart from bugs and the JDK's own exceptions. Older parts
 * of the library still throw {@link IllegalArgumentException}, {@link IllegalStateException} or
 * {@link java.io.UncheckedIOException}, with the message PEFT or transformers gives for the same case.
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
