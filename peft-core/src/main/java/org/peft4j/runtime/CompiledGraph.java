package org.peft4j.runtime;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxTensorLike;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.peft4j.RuntimeFailureException;
import org.peft4j.tensor.Tensor;

/**
 * A lease on a graph compiled into an ONNX Runtime session ({@link OrtRuntime#compile}). The session itself is shared
 * by every lease on the same compiled graph and by the runtime's cache; it stays open while any lease is open, even
 * after the cache evicted it, and closes when the last holder lets go. {@link #close()} ends this lease (idempotent);
 * a caller that keeps a lease for long (a training step) closes it when done, a caller that forgets only delays the
 * release until {@link OrtRuntime#close()}.
 *
 * <p>Thread-safe: runs may be made from several threads on one lease (ONNX Runtime sessions are thread-safe).
 */
public final class CompiledGraph implements AutoCloseable {
    private final NativeSession nativeSession;
    private final OrtEnvironment env;
    private final OrtSession session;
    private final Device device;
    private boolean closed;

    /** A new lease on {@code s}, whose reference the caller has already taken. */
    CompiledGraph(NativeSession s) {
        this.nativeSession = s;
        this.env = s.env;
        this.session = s.session;
        this.device = s.device;
    }

    /** Whether this lease and {@code other} run the same ONNX Runtime session. */
    public boolean sharesSessionWith(CompiledGraph other) {
        return other != null && other.nativeSession == nativeSession;
    }

    /** The device the session runs on (CPU after a fallback). */
    public Device device() {
        return device;
    }

    /**
     * The session's input names (graph inputs and parameters fed as inputs).
     *
     * @return the names
     */
    public Set<String> inputNames() {
        return session.getInputNames();
    }

    /**
     * The session's output names.
     *
     * @return the names
     */
    public Set<String> outputNames() {
        return session.getOutputNames();
    }

    /**
     * Runs the graph and copies every output into a peft4j tensor. Input tensors are handed to ORT without a copy
     * when their storage is direct.
     */
    public Map<String, Tensor> run(Map<String, Tensor> inputs) {
        try (Outputs out = runKeep(inputs)) {
            Map<String, Tensor> res = new LinkedHashMap<>();
            for (String n : out.names()) {
                res.put(n, out.get(n));
            }
            return res;
        }
    }

    /** Runs with peft4j tensors as inputs and keeps the outputs in ORT memory until the result is closed. */
    public Outputs runKeep(Map<String, Tensor> inputs) {
        Map<String, OnnxTensor> ort = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, Tensor> e : inputs.entrySet()) {
                ort.put(e.getKey(), OrtTensors.toOrt(env, e.getValue()));
            }
            return runOnnx(ort);
        } catch (OrtException e) {
            throw failure("could not create the input tensors", inputs, e);
        } finally {
            for (OnnxTensor t : ort.values()) {
                t.close();
            }
        }
    }

    /**
     * Runs with ORT values as inputs (for example outputs of a previous run that are fed back, such as a key/value
     * cache). The caller keeps ownership of the inputs; the returned outputs are owned by the result.
     */
    public Outputs runOnnx(Map<String, ? extends OnnxTensorLike> inputs) {
        checkOpen();
        try {
            return new Outputs(NativeStack.call(() -> session.run(inputs)));
        } catch (OrtException e) {
            throw failure("ONNX Runtime run failed", inputs, e);
        }
    }

    /**
     * Runs the graph and writes the named outputs straight into the given tensors' storage (ORT's pinned outputs: no
     * copy back), then marks each target {@linkplain Tensor#markModified() modified}. Each target must be direct and
     * writable, with the output's dtype and shape.
     */
    public void runInto(Map<String, Tensor> inputs, Map<String, Tensor> outputs) {
        checkOpen();
        Map<String, OnnxTensor> in = new LinkedHashMap<>();
        Map<String, OnnxTensor> out = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, Tensor> e : inputs.entrySet()) {
                in.put(e.getKey(), OrtTensors.toOrt(env, e.getValue()));
            }
            for (Map.Entry<String, Tensor> e : outputs.entrySet()) {
                if (!e.getValue().isWritableDirect()) {
                    throw new IllegalArgumentException("output '" + e.getKey() + "' must be a writable direct tensor");
                }
                out.put(e.getKey(), OrtTensors.toOrt(env, e.getValue()));
            }
            try (OrtSession.Result r = NativeStack.call(() -> session.run(in, out))) {
                // the pinned values are owned by the caller; nothing to copy
            } finally {
                // written in place: sessions that bind these tensors must not be reused with the old bytes
                outputs.values().forEach(Tensor::markModified);
            }
        } catch (OrtException e) {
            throw failure("ONNX Runtime run failed", inputs, e);
        } finally {
            in.values().forEach(OnnxTensor::close);
            out.values().forEach(OnnxTensor::close);
        }
    }

    /** Whether this lease was closed, or its session was (the runtime was closed). */
    public synchronized boolean isClosed() {
        return closed || nativeSession.isClosed();
    }

    /**
     * A {@link RuntimeFailureException} naming the graph (its outputs and device) and every input's dtype and shape,
     * followed by ONNX Runtime's text.
     */
    private RuntimeFailureException failure(String what, Map<String, ?> inputs, OrtException e) {
        StringBuilder sb = new StringBuilder(what).append(" (graph with outputs ").append(session.getOutputNames())
                .append(" on ").append(device).append("; inputs {");
        String sep = "";
        for (Map.Entry<String, ?> in : inputs.entrySet()) {
            sb.append(sep).append(in.getKey()).append(": ").append(describe(in.getValue()));
            sep = ", ";
        }
        return new RuntimeFailureException(sb.append("}): ").append(e.getMessage()).toString(), e);
    }

    private static String describe(Object v) {
        if (v instanceof Tensor t) {
            return t.dtype() + java.util.Arrays.toString(t.shape());
        }
        if (v instanceof OnnxValue o && o.getInfo() instanceof ai.onnxruntime.TensorInfo info) {
            return info.type + java.util.Arrays.toString(info.getShape());
        }
        return String.valueOf(v);
    }

    private void checkOpen() {
        if (isClosed()) {
            throw new IllegalStateException("compiled graph is closed");
        }
    }

    /** Ends this lease; the session closes when no lease and no cache entry holds it. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        nativeSession.release();
    }

    /** Outputs of a run, held in ORT memory; closing releases them. */
    public static final class Outputs implements AutoCloseable {
        private final OrtSession.Result result;
        private final Map<String, OnnxTensor> byName = new LinkedHashMap<>();

        Outputs(OrtSession.Result result) {
            this.result = result;
            for (Map.Entry<String, OnnxValue> e : result) {
                byName.put(e.getKey(), (OnnxTensor) e.getValue());
            }
        }

        /**
         * The output names in the session's order.
         *
         * @return the names
         */
        public List<String> names() {
            return Collections.unmodifiableList(new ArrayList<>(byName.keySet()));
        }

        /** A copy of output {@code name} as a peft4j tensor. */
        public Tensor get(String name) {
            return OrtTensors.fromOrt(onnx(name));
        }

        /** Output {@code name} as an ORT tensor, valid until this result is closed. */
        public OnnxTensor onnx(String name) {
            OnnxTensor t = byName.get(name);
            if (t == null) {
                throw new IllegalArgumentException("no output '" + name + "', outputs are " + byName.keySet());
            }
            return t;
        }

        @Override
        public void close() {
            result.close();
        }
    }
}
