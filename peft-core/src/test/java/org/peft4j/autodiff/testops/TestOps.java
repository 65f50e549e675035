package org.peft4j.autodiff.testops;

import java.util.List;
import org.peft4j.autodiff.OpDef;
import org.peft4j.autodiff.Ops;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.graph.ValueType;

/**
 * Op definitions registered the way another module registers its own (public API only, from outside
 * {@code org.peft4j.autodiff}): {@code com.microsoft:Inverse}, an ONNX Runtime contrib op that runs on CPU in
 * float64 and that peft-core does not define, and {@code Square} in a test domain that ONNX Runtime cannot run
 * (checked structurally).
 */
public final class TestOps {
    /** A domain of ops only these tests know. */
    public static final String TEST_DOMAIN = "org.peft4j.test";

    /**
     * {@code com.microsoft:Inverse}: Y = X^-1 over the last two axes. Since dY = -Y dX Y, the gradient is
     * dX = -Y^T dL/dY Y^T.
     */
    public static final OpDef INVERSE = Ops.register(OpDef.builder(Graph.MS_DOMAIN, "Inverse")
            .shapes((in, attrs) -> List.of(ValueType.of(in.get(0))))
            .gradient((c, n, d, i) -> {
                Graph g = c.graph();
                Value yt = c.transposeLast2(n.output(0));
                return g.neg(g.matmul(g.matmul(yt, d.get(0)), yt));
            })
            .build());

    /** {@code org.peft4j.test:Square}: y = x * x elementwise, dx = 2 x dy. */
    public static final OpDef SQUARE = Ops.register(OpDef.builder(TEST_DOMAIN, "Square")
            .shapes((in, attrs) -> List.of(ValueType.of(in.get(0))))
            .gradient((c, n, d, i) -> c.graph().mul(c.graph().mulScalar(d.get(0), 2), n.input(0)))
            .build());

    /** {@code org.peft4j.test:Opaque}: registered with neither shape inference nor a gradient. */
    public static final OpDef OPAQUE = Ops.register(OpDef.builder(TEST_DOMAIN, "Opaque").build());

    private TestOps() {
    }

    /** {@code com.microsoft:Inverse(x)}, typed by its registered definition. */
    public static Value inverse(Graph g, Value x) {
        return g.node("Inverse", Graph.MS_DOMAIN, List.of(x), java.util.Map.of()).output(0);
    }
}
