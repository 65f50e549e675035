package org.peft4j.graph;

import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;

/**
 * The output types (dtype and static shape) of one op, computed from its inputs and attributes. It is how
 * {@link Graph#node(String, String, List, Map)} types the outputs of an op when the caller gives no shapes.
 *
 * <p>The graph layer holds no table of ops itself: it asks every {@link Provider} found with
 * {@link ServiceLoader} (the op registry {@code org.peft4j.autodiff.Ops} is one), so that ops defined in a higher
 * layer or another module type their outputs without the graph depending on them.
 */
@FunctionalInterface
public interface ShapeInference {
    /**
     * The types of the outputs, one per output, in order.
     *
     * @param inputs the node's inputs (null entries for omitted optional inputs)
     * @param attributes the node's attributes (see {@link Node#attributes()})
     * @throws IllegalArgumentException when the inputs or attributes are not valid for the op
     */
    List<ValueType> infer(List<Value> inputs, Map<String, Object> attributes);

    /** A source of shape inference per op, discovered with {@link ServiceLoader}. */
    interface Provider {
        /** The shape inference of {@code domain:opType}, or null when this provider does not know it. */
        ShapeInference find(String domain, String opType);
    }

    /**
     * The shape inference of {@code domain:opType} from the installed providers.
     *
     * @throws IllegalArgumentException when no provider knows the op
     */
    static ShapeInference of(String domain, String opType) {
        for (Provider p : ShapeInferenceProviders.ALL) {
            ShapeInference s = p.find(domain, opType);
            if (s != null) {
                return s;
            }
        }
        throw new IllegalArgumentException("no shape inference for op " + (domain.isEmpty() ? "" : domain + ":")
                + opType + ": give the output types to Graph.node, or register the op's definition (with its shape"
                + " inference) in org.peft4j.autodiff.Ops");
    }
}
