package org.peft4j.runtime;

/** Thrown when a requested device (CUDA) cannot be used and no CPU fallback was allowed. */
public final class DeviceUnavailableException extends RuntimeException {
    public DeviceUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
