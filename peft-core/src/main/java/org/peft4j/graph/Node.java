package org.peft4j.graph;

import java.util.Collections;
import java.util.List;
import java.util.Map;

/** One ONNX operator application in a {@link Graph}. Optional inputs that are omitted are {@code null}. */
public final class Node {
    private final String name;
    private final String opType;
    private final String domain;
    private final List<Value> inputs;
    private final List<Value> outputs;
    private final Map<String, Object> attributes;

    Node(String name, String opType, String domain, List<Value> inputs, List<Value> outputs,
            Map<String, Object> attributes) {
        this.name = name;
        this.opType = opType;
        this.domain = domain;
        this.inputs = Collections.unmodifiableList(inputs);
        this.outputs = outputs;
        this.attributes = Collections.unmodifiableMap(attributes);
    }

    /**
     * The node's unique name in its graph.
     *
     * @return the name
     */
    public String name() {
        return name;
    }

    /**
     * The ONNX operator type ({@code MatMul}, {@code Add}, ...).
     *
     * @return the op type
     */
    public String opType() {
        return opType;
    }

    /** The operator domain: {@code ""} for standard ONNX, {@code "com.microsoft"} for ORT contrib ops. */
    public String domain() {
        return domain;
    }

    /**
     * The node's inputs in operator order (null for an omitted optional input).
     *
     * @return the inputs
     */
    public List<Value> inputs() {
        return inputs;
    }

    /** Input {@code i}, or null when absent. */
    public Value input(int i) {
        return i < inputs.size() ? inputs.get(i) : null;
    }

    /**
     * The node's outputs in operator order.
     *
     * @return an unmodifiable list
     */
    public List<Value> outputs() {
        return Collections.unmodifiableList(outputs);
    }

    /**
     * One output.
     *
     * @param i the output's index
     * @return the output
     */
    public Value output(int i) {
        return outputs.get(i);
    }

    /**
     * Attributes: values are {@link Long}, {@link Double}, {@link String}, {@code long[]}, {@code double[]} or a
     * {@link org.peft4j.tensor.Tensor}.
     */
    public Map<String, Object> attributes() {
        return attributes;
    }

    /** An integer attribute, or {@code dflt}. */
    public long attrLong(String key, long dflt) {
        Object v = attributes.get(key);
        return v == null ? dflt : (Long) v;
    }

    /** A float attribute, or {@code dflt}. */
    public double attrDouble(String key, double dflt) {
        Object v = attributes.get(key);
        return v == null ? dflt : (Double) v;
    }

    /** An integer-list attribute, or null. */
    public long[] attrLongs(String key) {
        return (long[]) attributes.get(key);
    }

    @Override
    public String toString() {
        return name + "=" + opType + inputs + "->" + outputs;
    }
}
