package org.peft4j.graph;

import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/** A value of a {@link Graph}: a graph input, a parameter, a constant or the output of a node. */
public final class Value {
    /** Where a value comes from. */
    public enum Kind {
        /** A graph input, fed at run time. */
        INPUT,
        /** A model parameter (bound as an initializer or fed as an input). */
        PARAMETER,
        /** A constant tensor embedded in the graph. */
        CONSTANT,
        /** The output of a node. */
        NODE
    }

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

    /**
     * The graph this value belongs to.
     *
     * @return the graph
     */
    public Graph graph() {
        return graph;
    }

    /** The unique name of this value in its graph (the ONNX value name). */
    public String name() {
        return name;
    }

    /**
     * The element type.
     *
     * @return the dtype
     */
    public DType dtype() {
        return dtype;
    }

    /**
     * The shape, whose dimensions may be symbolic.
     *
     * @return the shape
     */
    public Shape shape() {
        return shape;
    }

    /**
     * The number of dimensions.
     *
     * @return the rank
     */
    public int rank() {
        return shape.rank();
    }

    /**
     * Where this value comes from.
     *
     * @return the kind
     */
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
