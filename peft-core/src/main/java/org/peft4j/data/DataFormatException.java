package org.peft4j.data;

/**
 * A data file with a record that is not valid; the message names the file, the line or index, and the field. An
 * {@link org.peft4j.InvalidInputException}.
 */
public final class DataFormatException extends org.peft4j.InvalidInputException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception with its message.
     *
     * @param message the error text naming the file, the line or index, and the field
     */
    public DataFormatException(String message) {
        super(message);
    }

    /**
     * Creates the exception with its message and cause.
     *
     * @param message the error text naming the file, the line or index, and the field
     * @param cause the underlying failure (a JSON syntax error)
     */
    public DataFormatException(String message, Throwable cause) {
        super(message, null, null, cause);
    }
}
