package org.peft4j.data;

/** A data file with a record that is not valid; the message names the file, the line or index, and the field. */
public final class DataFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with its message. */
    public DataFormatException(String message) {
        super(message);
    }

    /** Creates the exception with its message and cause. */
    public DataFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
