package org.peft4j.autodiff;

import org.peft4j.graph.ShapeInference;

/**
 * Gives the graph layer the shape inference of the ops registered in {@link Ops}. It is found with
 * {@link java.util.ServiceLoader} ({@code META-INF/services/org.peft4j.graph.ShapeInference$Provider}), which is how
 * the graph uses the registry without depending on this package; there is no need to use it directly.
 */
public final class OpsShapeInference implements ShapeInference.Provider {
    /** Called by {@link java.util.ServiceLoader}. */
    public OpsShapeInference() {
    }

    @Override
    public ShapeInference find(String domain, String opType) {
        return Ops.find(domain, opType).flatMap(OpDef::shapeInference).orElse(null);
    }
}
