package org.peft4j.autodiff;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Node;
import org.peft4j.graph.Value;

/**
 * Reverse-mode differentiation over the graph IR, in standard ONNX ops only.
 *
 * <p>Given a scalar loss and the values to differentiate with respect to, it appends backward nodes to the same
 * graph and returns one gradient value per requested value. It prunes: a node gets backward nodes only when it lies
 * on a path from a requested value to the loss, and an input of a node receives a gradient only when it depends on
 * a requested value. So for a frozen weight {@code W} in {@code y = x W^T}, the gradient with respect to {@code x}
 * is emitted (if {@code x} depends on something trainable) and the one with respect to {@code W} never is.
 */
public final class Autodiff {
    private Autodiff() {
    }

    /** The result of differentiation: gradients by requested value, and the backward nodes that were added. */
    public static final class Result {
        private final Map<Value, Value> gradients;
        private final List<Node> backwardNodes;

        Result(Map<Value, Value> gradients, List<Node> backwardNodes) {
            this.gradients = Collections.unmodifiableMap(gradients);
            this.backwardNodes = Collections.unmodifiableList(backwardNodes);
        }

        /** Gradient of the loss with respect to {@code v} (same dtype and shape as {@code v}). */
        public Value gradient(Value v) {
            Value g = gradients.get(v);
            if (g == null) {
                throw new IllegalArgumentException("no gradient was requested for " + v.name());
            }
            return g;
        }

        /**
         * The gradient of the loss with respect to each value that has one.
         *
         * @return the gradients by value
         */
        public Map<Value, Value> gradients() {
            return gradients;
        }

        /** The nodes added for the backward pass, in emission order. */
        public List<Node> backwardNodes() {
            return backwardNodes;
        }
    }

    /** The key of a node's custom backward among the graph's annotations (private to autodiff). */
    private record CustomBackward(GradientRule rule) {
    }

    /**
     * Gives one node of {@code g} its own backward, which {@link #gradients} uses instead of the rule of the node's
     * op (registered in {@link Ops}). It serves a node whose op has no rule, or one node that needs a different
     * backward than its op's (a straight-through estimator, a backward that dequantizes a weight with standard ops).
     *
     * @throws IllegalArgumentException if {@code node} is not a node of {@code g}
     * @throws IllegalStateException if the node already has a different custom backward
     */
    public static void customBackward(Graph g, Node node, GradientRule rule) {
        Objects.requireNonNull(rule, "rule");
        if (node.outputs().isEmpty() || node.output(0).graph() != g) {
            throw new IllegalArgumentException("node " + node.name() + " is not a node of this graph");
        }
        CustomBackward prev = g.annotation(node, CustomBackward.class);
        if (prev != null && prev.rule() != rule) {
            throw new IllegalStateException("node " + node.name() + " already has a custom backward");
        }
        g.annotate(node, CustomBackward.class, new CustomBackward(rule));
    }

    /**
     * The backward of {@code n}: its custom backward if it has one, else its op's registered rule.
     *
     * @throws IllegalArgumentException if there is neither
     */
    static GradientRule ruleFor(Graph g, Node n) {
        CustomBackward custom = g.annotation(n, CustomBackward.class);
        if (custom != null) {
            return custom.rule();
        }
        return Ops.find(n.domain(), n.opType()).flatMap(OpDef::gradient).orElseThrow(() ->
                new IllegalArgumentException("no gradient rule for op " + Ops.key(n.domain(), n.opType())
                        + "; supported: " + Ops.all().stream().filter(d -> d.gradient().isPresent())
                                .map(OpDef::key).toList()
                        + " (register one with Ops.register, or give the node a backward with"
                        + " Autodiff.customBackward)"));
    }

    /**
     * Appends the backward pass of {@code loss} (a floating scalar) with respect to {@code wrt}.
     *
     * @throws IllegalArgumentException if the loss is not a floating scalar or a node on the path has no rule (neither
     *     a custom backward nor a registered gradient rule for its op)
     */
    public static Result gradients(Graph g, Value loss, Collection<Value> wrt) {
        if (!loss.dtype().isFloating() || loss.rank() != 0) {
            throw new IllegalArgumentException("loss must be a floating-point scalar, got " + loss);
        }
        return gradients(g, Map.of(loss, g.scalar(1.0, loss.dtype())), wrt);
    }

    /**
     * Appends the backward pass of a vector-Jacobian product: each key of {@code seeds} is a floating value of
     * {@code g} and its entry the upstream gradient flowing into it (same dtype and shape), and the result holds the
     * gradients of {@code sum(value * seed)} over all seeds with respect to {@code wrt}. With the single seed
     * {@code loss -> 1} this is {@link #gradients(Graph, Value, Collection)}. A segment of a checkpointed training
     * step uses it to back-propagate the gradient of its output that the later segments computed.
     *
     * @throws IllegalArgumentException if a seed does not match its value's dtype, or a node on the path has no rule
     */
    public static Result gradients(Graph g, Map<Value, Value> seeds, Collection<Value> wrt) {
        return gradients(g, g.nodes(), seeds, wrt);
    }

    /**
     * {@link #gradients(Graph, Map, Collection)} over the nodes {@code over} of {@code g} only (in graph order):
     * gradients flow through those nodes and stop at every value they read from elsewhere, as at a graph input.
     */
    public static Result gradients(Graph g, List<Node> over, Map<Value, Value> seeds, Collection<Value> wrt) {
        for (Map.Entry<Value, Value> e : seeds.entrySet()) {
            if (!e.getKey().dtype().isFloating() || e.getValue().dtype() != e.getKey().dtype()) {
                throw new IllegalArgumentException("seed " + e.getValue() + " does not match " + e.getKey());
            }
        }
        List<Node> forward = new ArrayList<>(over);
        Set<Value> dependsOnWrt = new HashSet<>(wrt);
        for (Node n : forward) {
            if (g.isStopGradient(n)) {
                continue;
            }
            boolean any = false;
            for (Value in : n.inputs()) {
                if (in != null && dependsOnWrt.contains(in)) {
                    any = true;
                    break;
                }
            }
            if (any) {
                for (Value out : n.outputs()) {
                    if (out.dtype().isFloating()) {
                        dependsOnWrt.add(out);
                    }
                }
            }
        }
        Set<Value> lossDependsOn = new HashSet<>(seeds.keySet());
        for (int i = forward.size() - 1; i >= 0; i--) {
            Node n = forward.get(i);
            boolean any = false;
            for (Value out : n.outputs()) {
                if (lossDependsOn.contains(out)) {
                    any = true;
                    break;
                }
            }
            if (any) {
                for (Value in : n.inputs()) {
                    if (in != null) {
                        lossDependsOn.add(in);
                    }
                }
            }
        }
        int firstBackward = g.nodes().size();
        Map<Value, Value> grads = new HashMap<>();
        GradientContext ctx = new GradientContext(g);
        try (Graph.Scope s = g.scope("grad")) {
            grads.putAll(seeds);
            for (int i = forward.size() - 1; i >= 0; i--) {
                Node n = forward.get(i);
                List<Value> outGrads = new ArrayList<>();
                boolean anyGrad = false;
                for (Value out : n.outputs()) {
                    Value d = grads.get(out);
                    outGrads.add(d);
                    anyGrad |= d != null;
                }
                if (!anyGrad) {
                    continue;
                }
                for (int k = 0; k < n.inputs().size(); k++) {
                    Value in = n.inputs().get(k);
                    if (in == null || !in.dtype().isFloating() || !dependsOnWrt.contains(in)
                            || !lossDependsOn.contains(in)) {
                        continue;
                    }
                    Value d = ruleFor(g, n).apply(ctx, n, outGrads, k);
                    if (d != null) {
                        Value prev = grads.get(in);
                        grads.put(in, prev == null ? d : g.add(prev, d));
                    }
                }
            }
        }
        Map<Value, Value> out = new LinkedHashMap<>();
        for (Value w : wrt) {
            Value d = grads.get(w);
            out.put(w, d != null ? d : ctx.zerosLike(w));
        }
        List<Node> added = new ArrayList<>(g.nodes().subList(firstBackward, g.nodes().size()));
        return new Result(out, added);
    }
}
