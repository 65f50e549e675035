package org.peft4j.autodiff;

import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * The registry of op definitions ({@link OpDef}), keyed by domain and op type. It starts with every op peft-core
 * emits (the standard ONNX ops and the ONNX Runtime contrib ops it uses, each with its gradient rule, shape inference
 * where the graph builder does not compute shapes itself, and its CUDA flag); other modules add their own ops.
 *
 * <p>{@link Autodiff} takes an op's backward from here (unless the node has a {@linkplain Autodiff#customBackward
 * custom backward}), and {@link org.peft4j.graph.Graph#node(String, String, java.util.List, java.util.Map)} without
 * output types takes them from here.
 *
 * <p>A module adds an op once, before it builds graphs with it, typically from a static initializer of the class
 * that emits the op (here peft-qlora's 4-bit matmul, whose backward dequantizes the weight with standard ops):
 *
 * <pre>{@code
 * static final OpDef MATMUL_BNB4 = Ops.register(OpDef.builder("com.microsoft", "MatMulBnb4")
 *         .shapes((in, attrs) -> List.of(new ValueType(in.get(0).dtype(),
 *                 in.get(0).shape().with(-1, Dim.of((Long) attrs.get("N"))))))
 *         .gradient((c, n, dOut, i) -> i == 0 ? dequantizedWeightGradient(c, n, dOut.get(0)) : null)
 *         .cudaKernel(true)
 *         .build());
 * ...
 * Value y = g.node("MatMulBnb4", "com.microsoft", List.of(x, packed, absmax), attrs).output(0);
 * }</pre>
 *
 * <p>Registration happens when that class initializes, so initialize it before building or differentiating graphs
 * with the op (reading a compile-time constant of it, such as a domain string, does not). The gradient rule builds
 * the backward from standard ops with the helpers of {@link GradientContext} ({@code reduceTo}, {@code zerosLike},
 * {@code shape}, {@code transposeLast2}); returning null for an input (the packed
 * weight above) means no gradient flows to it. One node that needs another backward than its op's gets it with
 * {@link Autodiff#customBackward(org.peft4j.graph.Graph, org.peft4j.graph.Node, GradientRule)}.
 *
 * <p>The registry is thread-safe. Registering an op that is already registered is a no-op when the definition is
 * the same (same rule and shape-inference objects, same CUDA flag), so a class may register from a static
 * initializer; a different definition for the same (domain, op) is an error.
 */
public final class Ops {
    private static final ConcurrentMap<String, OpDef> DEFS = new ConcurrentHashMap<>();

    static {
        BuiltinOps.registerAll();
    }

    private Ops() {
    }

    /**
     * Adds a definition.
     *
     * @return {@code def}, or the equal definition registered before
     * @throws IllegalStateException when the op is already registered with a different definition
     */
    public static OpDef register(OpDef def) {
        OpDef prev = DEFS.putIfAbsent(def.key(), def);
        if (prev == null) {
            return def;
        }
        if (!prev.sameAs(def)) {
            throw new IllegalStateException("op " + def.key() + " is already registered with a different definition"
                    + " (" + prev + " vs " + def + "); an op has one gradient rule: give one node its own backward with"
                    + " Autodiff.customBackward");
        }
        return prev;
    }

    /** The definition of {@code domain:opType}, if registered. */
    public static Optional<OpDef> find(String domain, String opType) {
        return Optional.ofNullable(DEFS.get(key(domain, opType)));
    }

    /**
     * The definition of {@code domain:opType}.
     *
     * @throws IllegalArgumentException when the op is not registered
     */
    public static OpDef get(String domain, String opType) {
        return find(domain, opType).orElseThrow(() -> new IllegalArgumentException("no definition for op "
                + key(domain, opType) + "; register one with Ops.register"));
    }

    /** A snapshot of all definitions, sorted by key. */
    public static List<OpDef> all() {
        return List.copyOf(new TreeMap<>(DEFS).values());
    }

    /** The registry key: {@code opType} for the standard domain, {@code domain:opType} otherwise. */
    public static String key(String domain, String opType) {
        return domain.isEmpty() ? opType : domain + ":" + opType;
    }
}
