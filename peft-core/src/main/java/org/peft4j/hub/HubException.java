package org.peft4j.hub;

import org.peft4j.Peft4jException;

/**
 * A file could not be resolved from the Hugging Face Hub or its local cache: not found, gated/private without
 * access, offline with the file absent from the cache, or a network failure. The message names the repo and file.
 */
public class HubException extends Peft4jException {
    private static final long serialVersionUID = 1L;

    /** An exception with the given message. */
    public HubException(String message) {
        super(message);
    }

    /** An exception with the given message and cause. */
    public HubException(String message, Throwable cause) {
        super(message, cause);
    }
}
