package org.peft4j.runtime;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.util.List;
import org.peft4j.tensor.Tensor;

/**
 * The native side of a compiled graph: the ONNX Runtime session, its options and the ORT tensors that wrap the frozen
 * weights (which must outlive the session). Reference-counted: the runtime's cache holds one reference and every
 * {@link CompiledGraph} lease another, so evicting a session from the cache never closes it under a caller that still
 * holds a lease; the native resources are released when the last reference goes. Thread-safe.
 */
final class NativeSession {
    final OrtEnvironment env;
    final OrtSession session;
    final Device device;
    private final OrtSession.SessionOptions options;
    private final List<OnnxTensor> initializers;
    private final List<Tensor> keepAlive;
    private int references = 1;
    private boolean closed;

    NativeSession(OrtEnvironment env, OrtSession session, OrtSession.SessionOptions options,
            List<OnnxTensor> initializers, List<Tensor> keepAlive, Device device) {
        this.env = env;
        this.session = session;
        this.options = options;
        this.initializers = initializers;
        this.keepAlive = keepAlive;
        this.device = device;
    }

    /** Takes one more reference. */
    synchronized void retain() {
        if (closed) {
            throw new IllegalStateException("compiled graph is closed");
        }
        references++;
    }

    /** Drops one reference; the last one closes the native session. */
    synchronized void release() {
        if (closed) {
            return;
        }
        if (--references == 0) {
            close();
        }
    }

    /** References held now (the cache's included). */
    synchronized int references() {
        return closed ? 0 : references;
    }

    synchronized boolean isClosed() {
        return closed;
    }

    /** Closes the native session whatever the references (the runtime is closing). */
    synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            session.close();
        } catch (OrtException e) {
            throw new org.peft4j.RuntimeFailureException("ONNX Runtime could not close a session on " + device + ": "
                    + e.getMessage(), e);
        } finally {
            options.close();
            for (OnnxTensor t : initializers) {
                t.close();
            }
            keepAlive.clear();
        }
    }
}
