package org.peft4j.cli;

/**
 * A failure the user can fix (a missing file, a wrong option value): the command prints its message as one line
 * on standard error, without a stack trace, and exits with status 1.
 */
public final class CliException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** A failure described by {@code message}, which names the file or option and what was expected. */
    public CliException(String message) {
        super(message);
    }

    /** A failure described by {@code message}, caused by {@code cause} (shown with {@code --verbose}). */
    public CliException(String message, Throwable cause) {
        super(message, cause);
    }
}
