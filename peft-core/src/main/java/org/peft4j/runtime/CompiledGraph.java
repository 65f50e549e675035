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
import org.peft4j.tensor.Tensor;

/**
 * A graph compiled into an ONNX Runtime session. Owns the session, its options and the ORT tensors that wrap the
 * frozen weights (which must outlive the session); {@link #close()} releases all of them.
 */
public final class CompiledGraph implements AutoCloseable {
    private final OrtEnvironment env;
    private final OrtSession session;
    private final OrtSession.SessionOptions options;
    private final List<OnnxTensor> initializers;
    private final List<Tensor> keepAlive;
    private final Device device;
    private boolean closed;

    CompiledGraph(OrtEnvironment env, OrtSession session, OrtSession.SessionOptions options,
            List<OnnxTensor> initializers, List<Tensor> keepAlive, Device device) {
        this.env = env;
        this.session = session;
        this.options = options;
        this.initializers = initializers;
        this.keepAlive = keepAlive;
        this.device = device;
    }

    /** The device the session runs on (CPU after a fallback). */
    public Device device() {
        return device;
    }

    public Set<String> inputNames() {
        return session.getInputNames();
    }

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
            throw new IllegalStateException("could not create input tensors: " + e.getMessage(), e);
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
            throw new IllegalStateException("ONNX Runtime run failed: " + e.getMessage(), e);
        }
    }

    /**
     * Runs the graph and writes the named outputs straight into the given tensors' storage (ORT's pinned outputs: no
     * copy back). Each target must be direct, with the output's dtype and shape.
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
                if (!e.getValue().data().isDirect()) {
                    throw new IllegalArgumentException("output '" + e.getKey() + "' must be a direct tensor");
                }
                out.put(e.getKey(), OrtTensors.toOrt(env, e.getValue()));
            }
            try (OrtSession.Result r = NativeStack.call(() -> session.run(in, out))) {
                // the pinned values are owned by the caller; nothing to copy
            }
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime run failed: " + e.getMessage(), e);
        } finally {
            in.values().forEach(OnnxTensor::close);
            out.values().forEach(OnnxTensor::close);
        }
    }

    /** Whether this graph was closed (by its owner, or evicted from the runtime's cache). */
    public synchronized boolean isClosed() {
        return closed;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("compiled graph is closed");
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            session.close();
        } catch (OrtException e) {
            throw new IllegalStateException(e);
        } finally {
            options.close();
            for (OnnxTensor t : initializers) {
                t.close();
            }
            keepAlive.clear();
        }
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
