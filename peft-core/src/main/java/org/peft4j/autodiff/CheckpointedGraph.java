package org.peft4j.autodiff;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Node;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;

/**
 * Gradient checkpointing over the graph IR: a forward graph cut at its {@linkplain Graph#checkpoint checkpoint
 * marks} into segments, each with a <em>forward graph</em> (the segment's nodes; outputs: the values that later
 * segments read) and a <em>backward graph</em> (the same nodes recomputed from the segment's inputs, then the
 * vector-Jacobian product of the upstream gradients of its outputs: gradients of the segment's differentiable inputs
 * and of the trainable parameters it reads).
 *
 * <p>Partition: a node that depends on a marked value belongs to the segment {@code max} over its inputs of the
 * input's level, where a marked value has level (its mark index + 1) and any other value the segment of its producer.
 * So a decoder layer that starts from the previous layer's marked output falls into its own segment. A node that
 * depends on no mark (masks, positions, rotary tables, dropout keys, weight-only subgraphs) goes to the earliest
 * segment that reads it: recomputed there when only that segment reads it (a layer's additive attention mask), kept
 * once and handed on when later segments read it too (the rotary tables). Nodes the loss does not depend on are
 * dropped. The last segment holds the loss.
 *
 * <p>Values that cross segments (marked outputs, saved shared values) are named {@value #SAVED} + their name in the
 * original graph, in every segment graph. A trainable parameter read by several segments (tied embeddings, a prompt
 * encoder) gets one gradient output per segment; the caller sums them. Because every node is copied with its
 * attributes, constants and annotations, a segment recomputes exactly what the original graph computes, dropout masks
 * included (they are a function of the {@value Graph#DROPOUT_SEED} input, the site's salt and the element index).
 */
public final class CheckpointedGraph {
    /** Prefix of the name of a value that crosses segments. */
    public static final String SAVED = "saved:";
    /** Prefix of a gradient output of a backward graph. */
    public static final String GRAD = "grad.";
    /** Prefix of an upstream-gradient input of a backward graph. */
    public static final String GRAD_IN = "grad_in.";
    /** Name of the loss output of the last segment's backward graph. */
    public static final String LOSS = "loss";

    /** One segment: its graphs and the names of what crosses its borders. */
    public static final class Segment {
        private final int index;
        private final Graph forward;
        private final Graph backward;
        private final List<String> exports;
        private final List<String> seeds;
        private final List<String> gradients;

        Segment(int index, Graph forward, Graph backward, List<String> exports, List<String> seeds,
                List<String> gradients) {
            this.index = index;
            this.forward = forward;
            this.backward = backward;
            this.exports = Collections.unmodifiableList(exports);
            this.seeds = Collections.unmodifiableList(seeds);
            this.gradients = Collections.unmodifiableList(gradients);
        }

        /** Position among the non-empty segments, 0 first. */
        public int index() {
            return index;
        }

        /**
         * The forward graph: inputs are its saved inputs ({@value #SAVED}...), batch inputs and parameters; outputs
         * are {@link #exports()}. Null for the last segment when its backward graph computes the loss; otherwise the
         * last segment's forward graph outputs {@value #LOSS}.
         */
        public Graph forward() {
            return forward;
        }

        /**
         * The recompute-and-backward graph, or null when no gradient flows through this segment. Inputs: those of
         * the forward graph plus {@value #GRAD_IN} + name for every name of {@link #seeds()}; outputs:
         * {@value #GRAD} + name for every name of {@link #gradients()} (and {@value #LOSS} for the last segment).
         */
        public Graph backward() {
            return backward;
        }

        /** Names of the saved values this segment produces for later segments (outputs of its forward graph). */
        public List<String> exports() {
            return exports;
        }

        /** Names of the exported values whose upstream gradient the backward graph takes. */
        public List<String> seeds() {
            return seeds;
        }

        /**
         * Names of the inputs whose gradients the backward graph outputs: saved values of earlier segments
         * ({@value #SAVED}...) and trainable parameters (their dotted names).
         */
        public List<String> gradients() {
            return gradients;
        }
    }

    private final List<Segment> segments;

    private CheckpointedGraph(List<Segment> segments) {
        this.segments = Collections.unmodifiableList(segments);
    }

    /** The non-empty segments in forward order; the last one holds the loss. */
    public List<Segment> segments() {
        return segments;
    }

    /** Partition data shared by the builders. */
    private static final class Plan {
        final Graph g;
        final Value loss;
        final Set<Value> wrt;
        final Map<Value, Integer> markIndex = new IdentityHashMap<>();
        final Map<Node, Integer> segmentOf = new IdentityHashMap<>();
        final List<List<Node>> nodes = new ArrayList<>();
        final List<Set<Value>> external = new ArrayList<>();
        final List<Set<Value>> exported = new ArrayList<>();
        final Set<Value> needsGradient = new HashSet<>();
        final Map<String, Parameter> parameterNames = new LinkedHashMap<>();

        Plan(Graph g, Value loss, Collection<Value> wrt) {
            this.g = g;
            this.loss = loss;
            this.wrt = new HashSet<>(wrt);
            for (Value v : g.checkpoints()) {
                markIndex.put(v, markIndex.size());
            }
            for (Value p : g.parameters()) {
                parameterNames.put(p.name(), p.parameter());
            }
            // live nodes: those the loss depends on
            Set<Value> needed = new HashSet<>();
            needed.add(loss);
            List<Node> all = g.nodes();
            boolean[] live = new boolean[all.size()];
            for (int i = all.size() - 1; i >= 0; i--) {
                for (Value o : all.get(i).outputs()) {
                    if (needed.contains(o)) {
                        live[i] = true;
                    }
                }
                if (live[i]) {
                    for (Value in : all.get(i).inputs()) {
                        if (in != null) {
                            needed.add(in);
                        }
                    }
                }
            }
            int segmentCount = markIndex.size() + 1;
            for (int k = 0; k < segmentCount; k++) {
                nodes.add(new ArrayList<>());
                external.add(new LinkedHashSet<>());
                exported.add(new LinkedHashSet<>());
            }
            needsGradient.addAll(this.wrt);
            // pass 1: nodes downstream of a mark go to the segment of their latest input; "free" nodes (no input
            // depends on a mark: masks, positions, rotary tables, dropout keys, weight-only subgraphs) wait
            Set<Node> free = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
            Set<Value> afterMark = new HashSet<>(markIndex.keySet());
            Map<Value, List<Node>> consumers = new IdentityHashMap<>();
            for (int i = 0; i < all.size(); i++) {
                if (!live[i]) {
                    continue;
                }
                Node n = all.get(i);
                int seg = 0;
                boolean differentiable = false;
                boolean dependsOnMark = false;
                for (Value in : n.inputs()) {
                    if (in != null) {
                        seg = Math.max(seg, level(in));
                        differentiable |= needsGradient.contains(in);
                        dependsOnMark |= afterMark.contains(in);
                        consumers.computeIfAbsent(in, v -> new ArrayList<>()).add(n);
                    }
                }
                boolean producesMark = false;
                for (Value o : n.outputs()) {
                    producesMark |= markIndex.containsKey(o);
                    if (dependsOnMark) {
                        afterMark.add(o);
                    }
                }
                if (dependsOnMark || producesMark) {
                    segmentOf.put(n, seg);
                } else {
                    free.add(n);
                }
                if (differentiable && !g.isStopGradient(n)) {
                    for (Value o : n.outputs()) {
                        if (o.dtype().isFloating()) {
                            needsGradient.add(o);
                        }
                    }
                }
            }
            // pass 2, backwards: a free node goes to the earliest segment that reads it, so a value used by one
            // layer only (its additive mask) is recomputed there instead of kept, and a shared one is kept once
            for (int i = all.size() - 1; i >= 0; i--) {
                Node n = all.get(i);
                if (!free.contains(n)) {
                    continue;
                }
                int seg = Integer.MAX_VALUE;
                for (Value o : n.outputs()) {
                    for (Node c : consumers.getOrDefault(o, List.of())) {
                        seg = Math.min(seg, segmentOf.get(c));
                    }
                }
                segmentOf.put(n, seg == Integer.MAX_VALUE ? 0 : seg);
            }
            for (int i = 0; i < all.size(); i++) {
                if (live[i]) {
                    nodes.get(segmentOf.get(all.get(i))).add(all.get(i));
                }
            }
            for (int k = 0; k < segmentCount; k++) {
                for (Node n : nodes.get(k)) {
                    for (Value in : n.inputs()) {
                        if (in == null || in.kind() == Value.Kind.CONSTANT) {
                            continue;
                        }
                        Integer from = in.kind() == Value.Kind.NODE ? segmentOf.get(in.producer()) : null;
                        if (from == null || from != k) {
                            external.get(k).add(in);
                            if (from != null) {
                                exported.get(from).add(in);
                            }
                        }
                    }
                }
            }
        }

        int level(Value v) {
            Integer m = markIndex.get(v);
            if (m != null) {
                return m + 1;
            }
            if (v.kind() == Value.Kind.NODE) {
                Integer s = segmentOf.get(v.producer());
                return s == null ? 0 : s;
            }
            return 0;
        }

        /** The name of {@code v} where it crosses segments: a parameter's or graph input's own, else saved:name. */
        static String key(Value v) {
            return v.kind() == Value.Kind.NODE ? SAVED + v.name() : v.name();
        }

        /** A new graph holding a copy of segment {@code k}'s nodes; {@code map} receives the original -> copy map. */
        Graph copy(int k, Map<Value, Value> map) {
            Graph sg = new Graph().setTraining(g.isTraining());
            sg.nameParameters(parameterNames);
            for (Value in : external.get(k)) {
                Value c;
                switch (in.kind()) {
                    case PARAMETER:
                        c = sg.param(in.parameter());
                        break;
                    case INPUT:
                        c = Graph.DROPOUT_SEED.equals(in.name()) ? sg.dropoutSeed()
                                : sg.input(in.name(), in.dtype(), in.shape());
                        break;
                    default:
                        c = sg.input(key(in), in.dtype(), in.shape());
                }
                map.put(in, c);
            }
            for (Node n : nodes.get(k)) {
                List<Value> ins = new ArrayList<>();
                for (Value in : n.inputs()) {
                    ins.add(in == null ? null : map.computeIfAbsent(in, c -> sg.constant(c.constant())));
                }
                Node c = sg.copyNode(n, ins);
                for (int i = 0; i < n.outputs().size(); i++) {
                    map.put(n.output(i), c.output(i));
                }
            }
            return sg;
        }
    }

    /**
     * Cuts {@code g} at its checkpoint marks.
     *
     * @param loss the floating scalar to minimise, a value of {@code g}
     * @param wrt the trainable parameter values of {@code g}
     * @throws IllegalArgumentException if the loss is not a floating scalar
     */
    public static CheckpointedGraph build(Graph g, Value loss, Collection<Value> wrt) {
        if (!loss.dtype().isFloating() || loss.rank() != 0) {
            throw new IllegalArgumentException("loss must be a floating-point scalar, got " + loss);
        }
        Plan plan = new Plan(g, loss, wrt);
        int last = plan.segmentOf.get(loss.producer());
        List<Integer> nonEmpty = new ArrayList<>();
        for (int k = 0; k <= last; k++) {
            if (!plan.nodes.get(k).isEmpty()) {
                nonEmpty.add(k);
            }
        }
        // backward plan, last segment first: which exports receive a gradient from later segments
        Set<Value> gradientArrives = new HashSet<>();
        Map<Integer, Segment> built = new HashMap<>();
        for (int i = nonEmpty.size() - 1; i >= 0; i--) {
            int k = nonEmpty.get(i);
            boolean isLast = k == last;
            List<Value> seedValues = new ArrayList<>();
            for (Value x : plan.exported.get(k)) {
                if (gradientArrives.contains(x)) {
                    seedValues.add(x);
                }
            }
            List<Value> gradValues = new ArrayList<>();
            for (Value e : plan.external.get(k)) {
                if (plan.needsGradient.contains(e) && e.dtype().isFloating()) {
                    gradValues.add(e);
                }
            }
            boolean hasBackward = !gradValues.isEmpty() && (isLast || !seedValues.isEmpty());
            Graph forward = null;
            List<String> exports = new ArrayList<>();
            if (!isLast || !hasBackward) {
                Map<Value, Value> map = new IdentityHashMap<>();
                forward = plan.copy(k, map);
                for (Value x : plan.exported.get(k)) {
                    forward.output(Plan.key(x), map.get(x));
                    exports.add(Plan.key(x));
                }
                if (isLast) {
                    forward.output(LOSS, map.get(loss));
                }
            }
            Graph backward = null;
            List<String> seeds = new ArrayList<>();
            List<String> grads = new ArrayList<>();
            if (hasBackward) {
                Map<Value, Value> map = new IdentityHashMap<>();
                backward = plan.copy(k, map);
                List<Value> wrtCopies = new ArrayList<>();
                for (Value e : gradValues) {
                    wrtCopies.add(map.get(e));
                }
                Autodiff.Result res;
                if (isLast) {
                    res = Autodiff.gradients(backward, map.get(loss), wrtCopies);
                    backward.output(LOSS, map.get(loss));
                } else {
                    Map<Value, Value> seedMap = new LinkedHashMap<>();
                    for (Value x : seedValues) {
                        String name = Plan.key(x);
                        seedMap.put(map.get(x), backward.input(GRAD_IN + name, x.dtype(), x.shape()));
                        seeds.add(name);
                    }
                    res = Autodiff.gradients(backward, seedMap, wrtCopies);
                }
                for (Value e : gradValues) {
                    backward.output(GRAD + Plan.key(e), res.gradient(map.get(e)));
                    grads.add(Plan.key(e));
                    gradientArrives.add(e);
                }
            }
            built.put(k, new Segment(i, forward, backward, exports, seeds, grads));
        }
        List<Segment> out = new ArrayList<>();
        for (int k : nonEmpty) {
            out.add(built.get(k));
        }
        return new CheckpointedGraph(out);
    }

    /**
     * The same recomputation in one graph (for measurement): {@code g}'s forward and loss, then for every segment from
     * the last a copy of its nodes reading the forward's values at its border, back-propagated over the copy only.
     * Appends to {@code g} and returns the gradient of the loss for every value of {@code wrt} (the caller adds the
     * outputs). ONNX Runtime schedules and may merge the copies as it likes, so this need not save any memory.
     */
    public static Map<Value, Value> recomputeInOneGraph(Graph g, Value loss, Collection<Value> wrt) {
        Plan plan = new Plan(g, loss, wrt);
        int last = plan.segmentOf.get(loss.producer());
        Map<Value, Value> pending = new IdentityHashMap<>();
        Map<Value, Value> out = new LinkedHashMap<>();
        for (int k = last; k >= 0; k--) {
            List<Node> nodes = plan.nodes.get(k);
            if (nodes.isEmpty()) {
                continue;
            }
            Map<Value, Value> map = new IdentityHashMap<>();
            List<Node> over = nodes;
            if (k != last) {
                for (Value e : plan.external.get(k)) {
                    map.put(e, e);
                }
                int before = g.nodes().size();
                for (Node n : nodes) {
                    List<Value> ins = new ArrayList<>();
                    for (Value in : n.inputs()) {
                        ins.add(in == null ? null : map.getOrDefault(in, in));
                    }
                    Node c = g.copyNode(n, ins);
                    for (int i = 0; i < n.outputs().size(); i++) {
                        map.put(n.output(i), c.output(i));
                    }
                }
                over = new ArrayList<>(g.nodes().subList(before, g.nodes().size()));
            } else {
                for (Node n : nodes) {
                    for (Value o : n.outputs()) {
                        map.put(o, o);
                    }
                }
                for (Value e : plan.external.get(k)) {
                    map.put(e, e);
                }
            }
            Map<Value, Value> seeds = new LinkedHashMap<>();
            if (k == last) {
                seeds.put(loss, g.scalar(1.0, loss.dtype()));
            }
            for (Value x : plan.exported.get(k)) {
                Value d = pending.remove(x);
                if (d != null) {
                    seeds.put(map.get(x), d);
                }
            }
            List<Value> gradValues = new ArrayList<>();
            for (Value e : plan.external.get(k)) {
                if (plan.needsGradient.contains(e) && e.dtype().isFloating()) {
                    gradValues.add(e);
                }
            }
            if (seeds.isEmpty() || gradValues.isEmpty()) {
                continue;
            }
            Autodiff.Result res = Autodiff.gradients(g, over, seeds, gradValues);
            for (Value e : gradValues) {
                Value d = res.gradient(e);
                Map<Value, Value> target = plan.wrt.contains(e) ? out : pending;
                Value prev = target.get(e);
                target.put(e, prev == null ? d : g.add(prev, d));
            }
        }
        Map<Value, Value> result = new LinkedHashMap<>();
        for (Value w : wrt) {
            Value d = out.get(w);
            result.put(w, d != null ? d : g.mul(w, g.scalar(0.0, w.dtype())));
        }
        return result;
    }
}
