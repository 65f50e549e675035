package org.peft4j.runtime;

/**
 * Thrown when a requested device (CUDA) cannot be used and no CPU fallback was allowed. A
 * {@link org.peft4j.RuntimeFailureException}: the message names the device and what it needs; the cause is ONNX
 * Runtime's error.
 */
public final class DeviceUnavailableException extends org.peft4j.RuntimeFailureException {
    private static final long serialVersionUID = 1L;

    /**
     * A device that could not be started.
     *
     * @param message which device, why, and what it needs
     * @param cause ONNX Runtime's error, or {@code null}
     */
    public DeviceUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
