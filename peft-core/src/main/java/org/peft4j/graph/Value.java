package org.peft4j.graph;

import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/** A value of a {@link Graph}: a graph input, a parameter, a constant or the output of a node. */
public final class Value {
    /** Where a value comes from. */
    public enum Kind { INPUT, PARAMETER, CONSTANT, NODE }

    private final Graph graph;
    private final String name;
    private final DType dtype;
    private final Shape shape;
    private final Kind kind;
    private final Node producer;
    private final Tensor constant;
    private final Parameter parameter;

    Value(Graph graph, String name, DType dtype, Shape shape, Kind kind, Node producer, Tensor constant,
            Parameter parameter) {
        this.graph = graph;
        this.name = name;
        this.dtype = dtype;
        this.shape = shape;
        this.kind = kind;
        this.producer = producer;
        this.constant = constant;
        this.parameter = parameter;
        graph.register(this);
    }

    public Graph graph() {
        return graph;
    }

    /** The unique name of this value in its graph (the ONNX value name). */
    public String name() {
        return name;
    }

    public DType dtype() {
        return dtype;
    }

    public Shape shape() {
        return shape;
    }

    public int rank() {
        return shape.rank();
    }

    public Kind kind() {
        return kind;
    }

    /** The node producing this value, or null for inputs, parameters and constants. */
    public Node producer() {
        return producer;
    }

    /** The constant's data, or null. */
    public Tensor constant() {
        return constant;
    }

    /** The parameter behind this value, or null. */
    public Parameter parameter() {
        return parameter;
    }

    @Override
    public String toString() {
        return name + ":" + dtype + shape;
    }
}
