package org.peft4j;

/**
 * ONNX Runtime failed to create or run a session. The message says what was being done (creating a session, running
 * a graph, creating input tensors), for which graph, with which inputs (names, dtypes and shapes), followed by ONNX
 * Runtime's own text; the cause is the original {@code ai.onnxruntime.OrtException}.
 *
 * <p>peft4j checks what it can before handing work to ONNX Runtime (token ids against the embedding, tensor shapes),
 * so this exception usually means a graph the runtime cannot execute, a device problem or resource exhaustion.
 */
public class RuntimeFailureException extends Peft4jException {
    private static final long serialVersionUID = 1L;

    /**
     * A runtime failure with its context.
     *
     * @param message what failed, for which graph and inputs, and ONNX Runtime's text
     * @param cause the ONNX Runtime exception (or other native failure)
     */
    public RuntimeFailureException(String message, Throwable cause) {
        super(message, cause);
    }
}
