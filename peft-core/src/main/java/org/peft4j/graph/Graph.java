package org.peft4j.graph;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * A small ONNX graph IR with a builder API. Modules append nodes; each op method infers the output dtype and a
 * static shape (with symbolic dimensions) so that later passes (autodiff, export) know what they handle.
 *
 * <p>Parameters are added with {@link #param(Parameter)}: the value takes the parameter's dotted name from the
 * names registered with {@link #nameParameters(Map)}. Whether a parameter becomes an initializer or an input is
 * decided when the graph is compiled, not here.
 */
public final class Graph {
    /** Opset of the default ONNX domain. */
    public static final int OPSET = 21;
    /** The ONNX IR version that matches {@link #OPSET}. */
    public static final int IR_VERSION = 10;
    /** The ONNX Runtime contrib domain. */
    public static final String MS_DOMAIN = "com.microsoft";
    /** Name of the int64 scalar input that seeds the dropout masks of a training graph. */
    public static final String DROPOUT_SEED = "dropout_seed";

    private final List<Value> inputs = new ArrayList<>();
    private final List<Value> outputs = new ArrayList<>();
    private final List<Node> nodes = new ArrayList<>();
    private final java.util.Set<Node> stopGradient = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    private final Map<Node, Map<Class<?>, Object>> annotations = new IdentityHashMap<>();
    private final Map<Parameter, Value> parameterValues = new IdentityHashMap<>();
    private final List<Value> parameterOrder = new ArrayList<>();
    private final Map<Parameter, String> parameterNames = new IdentityHashMap<>();
    private final List<Value> constants = new ArrayList<>();
    private final Map<String, Value> constantCache = new HashMap<>();
    private final Map<String, Value> names = new HashMap<>();
    private final Deque<String> scopes = new ArrayDeque<>();
    private final Map<String, Value> memo = new HashMap<>();
    private final List<Value> checkpoints = new ArrayList<>();
    private boolean training;
    private int counter;
    private Value dropoutSeed;
    private long dropoutSalt;

    /** A graph for inference (dropout off). */
    public Graph() {
    }

    /** Whether modules should emit training behaviour (dropout). */
    public boolean isTraining() {
        return training;
    }

    /**
     * Sets the training flag read by modules that behave differently in training (dropout).
     *
     * @param training true for a training graph
     * @return this graph
     */
    public Graph setTraining(boolean training) {
        this.training = training;
        return this;
    }

    /**
     * The int64 scalar input {@value #DROPOUT_SEED} shared by every dropout site of this graph, declared on the first
     * call. Whoever runs the graph feeds it (a training step feeds a value derived from the seed, the optimizer step
     * and the micro-batch, so masks differ per step and a resumed run draws the same ones).
     */
    public Value dropoutSeed() {
        if (dropoutSeed == null) {
            dropoutSeed = input(DROPOUT_SEED, DType.I64, Shape.scalar());
        }
        return dropoutSeed;
    }

    /** Whether a dropout site declared the {@value #DROPOUT_SEED} input (so it has to be fed). */
    public boolean hasDropoutSeed() {
        return dropoutSeed != null;
    }

    /**
     * A new salt for one dropout site: 0, 1, 2, ... in emission order, so that every site of a graph draws its own
     * stream from the shared seed, and the same model emits the same salts every time.
     */
    public long nextDropoutSalt() {
        return dropoutSalt++;
    }

    /**
     * Marks {@code x} as a gradient-checkpoint boundary (transformers' {@code gradient_checkpointing}): a decoder stack
     * marks each layer's output. The mark adds no node and changes nothing the graph computes; a training step with
     * gradient checkpointing on cuts the forward into segments at the marked values, keeps only the values that cross
     * a cut from the forward pass and recomputes each segment in its backward pass. Marking a value twice has no
     * further effect.
     *
     * @return {@code x}
     */
    public Value checkpoint(Value x) {
        if (x.graph() != this) {
            throw new IllegalArgumentException("value " + x.name() + " belongs to another graph");
        }
        if (!checkpoints.contains(x)) {
            checkpoints.add(x);
        }
        return x;
    }

    /** The values marked with {@link #checkpoint(Value)}, in marking order. */
    public List<Value> checkpoints() {
        return Collections.unmodifiableList(checkpoints);
    }

    /**
     * Appends a copy of {@code n} (a node of this or another graph) reading {@code in} (values of this graph) instead
     * of its inputs: same op, domain, attributes and output types, with its annotations and its
     * {@linkplain #stopGradient stop-gradient} flag, under a fresh name. Used to cut a graph into segments and to
     * recompute a segment.
     */
    public Node copyNode(Node n, List<Value> in) {
        Graph from = n.output(0).graph();
        if (in.size() != n.inputs().size()) {
            throw new IllegalArgumentException("node " + n.name() + " has " + n.inputs().size() + " inputs, got "
                    + in.size());
        }
        List<DType> types = new ArrayList<>();
        List<Shape> shapes = new ArrayList<>();
        for (Value o : n.outputs()) {
            types.add(o.dtype());
            shapes.add(o.shape());
        }
        Node copy = addNode(n.opType(), n.domain(), in, types, shapes, n.attributes(), null);
        Map<Class<?>, Object> ann = from.annotations.get(n);
        if (ann != null) {
            annotations.put(copy, new HashMap<>(ann));
        }
        if (from.isStopGradient(n)) {
            stopGradient.add(copy);
        }
        return copy;
    }

    // ------------------------------------------------------------------ structure

    /**
     * The graph's inputs in declaration order.
     *
     * @return an unmodifiable view
     */
    public List<Value> inputs() {
        return Collections.unmodifiableList(inputs);
    }

    /**
     * The graph's outputs in declaration order.
     *
     * @return an unmodifiable view
     */
    public List<Value> outputs() {
        return Collections.unmodifiableList(outputs);
    }

    /**
     * The nodes in the order they were added (a topological order).
     *
     * @return an unmodifiable view
     */
    public List<Node> nodes() {
        return Collections.unmodifiableList(nodes);
    }

    /** Parameter values in the order they were first used. */
    public List<Value> parameters() {
        return Collections.unmodifiableList(parameterOrder);
    }

    /**
     * The constant tensors embedded in the graph.
     *
     * @return an unmodifiable view
     */
    public List<Value> constants() {
        return Collections.unmodifiableList(constants);
    }

    /** The value with this name, or null. */
    public Value value(String name) {
        return names.get(name);
    }

    /** Registers the dotted names of parameters (as from {@code namedParameters()}). */
    public Graph nameParameters(Map<String, Parameter> named) {
        for (Map.Entry<String, Parameter> e : named.entrySet()) {
            parameterNames.putIfAbsent(e.getValue(), e.getKey());
        }
        return this;
    }

    /** Opens a naming scope for the nodes added until the returned handle is closed. */
    public Scope scope(String name) {
        scopes.push(name);
        return () -> scopes.pop();
    }

    /** A naming scope; closing it restores the enclosing one. */
    public interface Scope extends AutoCloseable {
        @Override
        void close();
    }

    // ------------------------------------------------------------------ leaves

    /** Declares a graph input. */
    public Value input(String name, DType dtype, Dim... dims) {
        return input(name, dtype, Shape.of(dims));
    }

    /** Declares a graph input. */
    public Value input(String name, DType dtype, Shape shape) {
        Value v = new Value(this, claim(name), dtype, shape, Value.Kind.INPUT, null, null, null);
        inputs.add(v);
        return v;
    }

    /** The graph value for a parameter (added on first use). */
    public Value param(Parameter p) {
        Value v = parameterValues.get(p);
        if (v == null) {
            String n = parameterNames.get(p);
            if (n == null) {
                n = "param_" + parameterValues.size();
            }
            v = new Value(this, claim(n), p.dtype(), Shape.of(p.shape()), Value.Kind.PARAMETER, null, null, p);
            parameterValues.put(p, v);
            parameterOrder.add(v);
        }
        return v;
    }

    /** A constant initializer holding {@code t} (keep it small: its bytes go into the ModelProto). */
    public Value constant(Tensor t) {
        Value v = new Value(this, claim(fresh("const")), t.dtype(), Shape.of(t.shape()), Value.Kind.CONSTANT, null, t,
                null);
        constants.add(v);
        return v;
    }

    /** A 1-D int64 constant (shapes, axes, indices). */
    public Value ints(long... values) {
        return cached("i64" + Arrays.toString(values), () -> constant(Tensor.of(values, values.length)));
    }

    /** A rank-0 int64 constant. */
    public Value intScalar(long value) {
        return cached("i64s" + value, () -> constant(Tensor.of(new long[] {value})));
    }

    /** A rank-0 floating constant of the given dtype. */
    public Value scalar(double value, DType dtype) {
        return cached(dtype + "s" + Double.doubleToLongBits(value), () -> {
            Tensor t = dtype == DType.F64 ? Tensor.of(new double[] {value}) : Tensor.of(new float[] {(float) value});
            return constant(dtype == DType.F64 || dtype == DType.F32 ? t : t.to(dtype));
        });
    }

    private Value cached(String key, java.util.function.Supplier<Value> make) {
        Value v = constantCache.get(key);
        if (v == null) {
            v = make.get();
            constantCache.put(key, v);
        }
        return v;
    }

    /** Marks {@code v} as a graph output named {@code name}. */
    public Value output(String name, Value v) {
        Value out = addNode("Identity", "", List.of(v), List.of(v.dtype()), List.of(v.shape()), Map.of(), name)
                .output(0);
        outputs.add(out);
        return out;
    }

    // ------------------------------------------------------------------ generic nodes

    /**
     * Appends a node with explicitly given output types.
     *
     * @param domain {@code ""} or {@link #MS_DOMAIN}
     */
    public Node node(String opType, String domain, List<Value> in, List<DType> outTypes, List<Shape> outShapes,
            Map<String, Object> attrs) {
        return addNode(opType, domain, in, outTypes, outShapes, attrs, null);
    }

    /**
     * Appends a node whose output types come from the op's {@link ShapeInference} (its registered definition), for
     * ops that have no builder method here, such as a module's own contrib op.
     *
     * @throws IllegalArgumentException when no shape inference is known for the op
     */
    public Node node(String opType, String domain, List<Value> in, Map<String, Object> attrs) {
        List<ValueType> types = ShapeInference.of(domain, opType).infer(Collections.unmodifiableList(
                new ArrayList<>(in)), Collections.unmodifiableMap(new LinkedHashMap<>(attrs)));
        return addNode(opType, domain, in, types.stream().map(ValueType::dtype).toList(),
                types.stream().map(ValueType::shape).toList(), attrs, null);
    }

    /**
     * Attaches {@code value} to node {@code n} under {@code key}, for a later pass that looks it up by the same key
     * (autodiff's custom backward of one node, for example). Nothing of it is exported.
     */
    public <T> void annotate(Node n, Class<T> key, T value) {
        annotations.computeIfAbsent(n, k -> new HashMap<>()).put(key, key.cast(value));
    }

    /** The annotation of {@code n} under {@code key}, or null. */
    public <T> T annotation(Node n, Class<T> key) {
        Map<Class<?>, Object> m = annotations.get(n);
        return m == null ? null : key.cast(m.get(key));
    }

    private Node addNode(String opType, String domain, List<Value> in, List<DType> outTypes, List<Shape> outShapes,
            Map<String, Object> attrs, String outName) {
        for (Value v : in) {
            if (v != null && v.graph() != this) {
                throw new IllegalArgumentException("value " + v.name() + " belongs to another graph");
            }
        }
        String nodeName = claimNode(opType);
        List<Value> outs = new ArrayList<>();
        Node node = new Node(nodeName, opType, domain, new ArrayList<>(in), outs, new LinkedHashMap<>(attrs));
        for (int i = 0; i < outTypes.size(); i++) {
            String vn = outName != null && i == 0 ? claim(outName) : claim(nodeName + ":" + i);
            outs.add(new Value(this, vn, outTypes.get(i), outShapes.get(i), Value.Kind.NODE, node, null, null));
        }
        nodes.add(node);
        return node;
    }

    private Value unary(String op, Value x, Map<String, Object> attrs) {
        return addNode(op, "", List.of(x), List.of(x.dtype()), List.of(x.shape()), attrs, null).output(0);
    }

    private Value binary(String op, Value a, Value b, DType outType) {
        Shape s = Shape.broadcast(a.shape(), b.shape());
        return addNode(op, "", List.of(a, b), List.of(outType), List.of(s), Map.of(), null).output(0);
    }

    private static void sameType(String op, Value a, Value b) {
        if (a.dtype() != b.dtype()) {
            throw new IllegalArgumentException(op + ": dtype mismatch " + a + " vs " + b);
        }
    }

    // ------------------------------------------------------------------ elementwise

    /**
     * ONNX {@code Add}: elementwise {@code a + b} with numpy broadcasting; both of one dtype.
     *
     * @param a the left operand
     * @param b the right operand
     * @return the sum
     */
    public Value add(Value a, Value b) {
        sameType("Add", a, b);
        return binary("Add", a, b, a.dtype());
    }

    /**
     * ONNX {@code Sub}: elementwise {@code a - b} with broadcasting; both of one dtype.
     *
     * @param a the left operand
     * @param b the right operand
     * @return the difference
     */
    public Value sub(Value a, Value b) {
        sameType("Sub", a, b);
        return binary("Sub", a, b, a.dtype());
    }

    /**
     * ONNX {@code Mul}: elementwise {@code a * b} with broadcasting; both of one dtype.
     *
     * @param a the left operand
     * @param b the right operand
     * @return the product
     */
    public Value mul(Value a, Value b) {
        sameType("Mul", a, b);
        return binary("Mul", a, b, a.dtype());
    }

    /**
     * ONNX {@code Div}: elementwise {@code a / b} with broadcasting; both of one dtype.
     *
     * @param a the dividend
     * @param b the divisor
     * @return the quotient
     */
    public Value div(Value a, Value b) {
        sameType("Div", a, b);
        return binary("Div", a, b, a.dtype());
    }

    /** ONNX {@code Mod} with {@code fmod=0}: for integers the result has the sign of the divisor (Python's %). */
    public Value mod(Value a, Value b) {
        sameType("Mod", a, b);
        return binary("Mod", a, b, a.dtype());
    }

    /**
     * ONNX {@code Pow}: elementwise {@code a} to the power {@code b}, with broadcasting.
     *
     * @param a the base
     * @param b the exponent
     * @return the power, of {@code a}'s dtype
     */
    public Value pow(Value a, Value b) {
        return binary("Pow", a, b, a.dtype());
    }

    /** {@code x * c} for a scalar constant of x's dtype. */
    public Value mulScalar(Value x, double c) {
        return mul(x, scalar(c, x.dtype()));
    }

    /** {@code x + c} for a scalar constant of x's dtype. */
    public Value addScalar(Value x, double c) {
        return add(x, scalar(c, x.dtype()));
    }

    /**
     * ONNX {@code Equal}: elementwise {@code a == b} as a boolean tensor.
     *
     * @param a the left operand
     * @param b the right operand
     * @return the comparison
     */
    public Value equal(Value a, Value b) {
        return binary("Equal", a, b, DType.BOOL);
    }

    /**
     * ONNX {@code Less}: elementwise {@code a < b} as a boolean tensor.
     *
     * @param a the left operand
     * @param b the right operand
     * @return the comparison
     */
    public Value less(Value a, Value b) {
        return binary("Less", a, b, DType.BOOL);
    }

    /**
     * ONNX {@code LessOrEqual}: elementwise {@code a <= b} as a boolean tensor.
     *
     * @param a the left operand
     * @param b the right operand
     * @return the comparison
     */
    public Value lessOrEqual(Value a, Value b) {
        return binary("LessOrEqual", a, b, DType.BOOL);
    }

    /**
     * ONNX {@code Greater}: elementwise {@code a > b} as a boolean tensor.
     *
     * @param a the left operand
     * @param b the right operand
     * @return the comparison
     */
    public Value greater(Value a, Value b) {
        return binary("Greater", a, b, DType.BOOL);
    }

    /**
     * ONNX {@code And}: elementwise logical and of two boolean tensors.
     *
     * @param a the left operand
     * @param b the right operand
     * @return the conjunction
     */
    public Value and(Value a, Value b) {
        return binary("And", a, b, DType.BOOL);
    }

    /**
     * ONNX {@code Not}: elementwise logical negation of a boolean tensor.
     *
     * @param x the operand
     * @return the negation
     */
    public Value not(Value x) {
        return unary("Not", x, Map.of());
    }

    /**
     * ONNX {@code Neg}: elementwise {@code -x}.
     *
     * @param x the operand
     * @return the negation
     */
    public Value neg(Value x) {
        return unary("Neg", x, Map.of());
    }

    /**
     * ONNX {@code Sqrt}: elementwise square root.
     *
     * @param x the operand
     * @return the square root
     */
    public Value sqrt(Value x) {
        return unary("Sqrt", x, Map.of());
    }

    /**
     * ONNX {@code Exp}: elementwise {@code e^x}.
     *
     * @param x the operand
     * @return the exponential
     */
    public Value exp(Value x) {
        return unary("Exp", x, Map.of());
    }

    /**
     * ONNX {@code Log}: elementwise natural logarithm.
     *
     * @param x the operand
     * @return the logarithm
     */
    public Value log(Value x) {
        return unary("Log", x, Map.of());
    }

    /**
     * ONNX {@code Tanh}: elementwise hyperbolic tangent.
     *
     * @param x the operand
     * @return the tangent
     */
    public Value tanh(Value x) {
        return unary("Tanh", x, Map.of());
    }

    /**
     * ONNX {@code Sigmoid}: elementwise {@code 1 / (1 + e^-x)}.
     *
     * @param x the operand
     * @return the sigmoid
     */
    public Value sigmoid(Value x) {
        return unary("Sigmoid", x, Map.of());
    }

    /**
     * ONNX {@code Sin}: elementwise sine (radians).
     *
     * @param x the operand
     * @return the sine
     */
    public Value sin(Value x) {
        return unary("Sin", x, Map.of());
    }

    /**
     * ONNX {@code Cos}: elementwise cosine (radians).
     *
     * @param x the operand
     * @return the cosine
     */
    public Value cos(Value x) {
        return unary("Cos", x, Map.of());
    }

    /**
     * ONNX {@code Reciprocal}: elementwise {@code 1 / x}.
     *
     * @param x the operand
     * @return the reciprocal
     */
    public Value reciprocal(Value x) {
        return unary("Reciprocal", x, Map.of());
    }

    /**
     * ONNX {@code Identity}: the same values under a new name.
     *
     * @param x the operand
     * @return a copy of {@code x}
     */
    public Value identity(Value x) {
        return unary("Identity", x, Map.of());
    }

    /**
     * The identity in the forward pass, a constant for differentiation ({@code tensor.detach()}): no gradient flows
     * back through the returned value.
     */
    public Value stopGradient(Value x) {
        Value y = unary("Identity", x, Map.of());
        stopGradient.add(y.producer());
        return y;
    }

    /** Whether {@code n} was emitted by {@link #stopGradient(Value)}. */
    public boolean isStopGradient(Node n) {
        return stopGradient.contains(n);
    }

    /** {@code Where(cond, x, y)} with broadcasting. */
    public Value where(Value cond, Value x, Value y) {
        sameType("Where", x, y);
        Shape s = Shape.broadcast(cond.shape(), Shape.broadcast(x.shape(), y.shape()));
        return addNode("Where", "", List.of(cond, x, y), List.of(x.dtype()), List.of(s), Map.of(), null).output(0);
    }

    /**
     * ONNX {@code Cast} to another dtype; returns {@code x} itself when it already has that dtype.
     *
     * @param x the operand
     * @param to the target dtype
     * @return the converted value
     */
    public Value cast(Value x, DType to) {
        if (x.dtype() == to) {
            return x;
        }
        return addNode("Cast", "", List.of(x), List.of(to), List.of(x.shape()), Map.of("to", (long) to.onnxCode()),
                null).output(0);
    }

    // ------------------------------------------------------------------ linear algebra

    /** ONNX MatMul (numpy semantics, rank >= 2 on both sides). */
    public Value matmul(Value a, Value b) {
        sameType("MatMul", a, b);
        if (a.rank() < 2 || b.rank() < 2) {
            throw new IllegalArgumentException("MatMul needs rank >= 2: " + a + ", " + b);
        }
        Shape batch = Shape.broadcast(a.shape().sub(0, -2), b.shape().sub(0, -2));
        Shape s = batch.append(a.shape().dim(-2), b.shape().dim(-1));
        return addNode("MatMul", "", List.of(a, b), List.of(a.dtype()), List.of(s), Map.of(), null).output(0);
    }

    /** ONNX Gemm: {@code alpha * A' B' + beta * C} on 2-D inputs ({@code c} may be null). */
    public Value gemm(Value a, Value b, Value c, boolean transA, boolean transB) {
        sameType("Gemm", a, b);
        Dim m = transA ? a.shape().dim(1) : a.shape().dim(0);
        Dim n = transB ? b.shape().dim(0) : b.shape().dim(1);
        Map<String, Object> attrs = new LinkedHashMap<>();
        if (transA) {
            attrs.put("transA", 1L);
        }
        if (transB) {
            attrs.put("transB", 1L);
        }
        List<Value> in = c == null ? List.of(a, b) : List.of(a, b, c);
        return addNode("Gemm", "", in, List.of(a.dtype()), List.of(Shape.of(m, n)), attrs, null).output(0);
    }

    // ------------------------------------------------------------------ shapes

    /** {@code Shape(x)[start:end]} as a 1-D int64 value (memoized per value and range). */
    public Value shapeOf(Value x, int start, int end) {
        String key = "shape:" + x.name() + ":" + start + ":" + end;
        Value v = memo.get(key);
        if (v == null) {
            int r = x.rank();
            int s = start < 0 ? r + start : start;
            int e = end < 0 ? r + end : Math.min(end, r);
            Map<String, Object> attrs = new LinkedHashMap<>();
            if (s != 0) {
                attrs.put("start", (long) s);
            }
            if (e != r) {
                attrs.put("end", (long) e);
            }
            v = addNode("Shape", "", List.of(x), List.of(DType.I64), List.of(Shape.of(Math.max(0, e - s))), attrs, null)
                    .output(0);
            memo.put(key, v);
        }
        return v;
    }

    /** {@code Size(x)}: the number of elements of {@code x} as a rank-0 int64 value. */
    public Value size(Value x) {
        return addNode("Size", "", List.of(x), List.of(DType.I64), List.of(Shape.scalar()), Map.of(), null).output(0);
    }

    /** {@code Shape(x)[axis]} as a rank-0 int64 value. */
    public Value dimOf(Value x, int axis) {
        int a = axis < 0 ? x.rank() + axis : axis;
        return squeeze(shapeOf(x, a, a + 1), 0);
    }

    /**
     * Reshape to a constant target (ONNX semantics: 0 copies the input dimension, -1 is inferred).
     */
    public Value reshape(Value x, long... target) {
        List<Dim> dims = new ArrayList<>();
        int infer = -1;
        for (int i = 0; i < target.length; i++) {
            if (target[i] == 0) {
                dims.add(x.shape().dim(i));
            } else if (target[i] == -1) {
                infer = i;
                dims.add(Dim.unknown());
            } else {
                dims.add(Dim.of(target[i]));
            }
        }
        if (infer >= 0) {
            long known = 1;
            boolean fixed = x.shape().isFullyFixed();
            for (int i = 0; i < dims.size(); i++) {
                if (i != infer) {
                    if (dims.get(i).isFixed()) {
                        known *= dims.get(i).size();
                    } else {
                        fixed = false;
                    }
                }
            }
            if (fixed && known > 0) {
                dims.set(infer, Dim.of(x.shape().numel() / known));
            }
        }
        return reshape(x, ints(target), Shape.of(dims));
    }

    /** Reshape to a computed target; {@code outShape} is the static shape the caller knows the result has. */
    public Value reshape(Value x, Value target, Shape outShape) {
        return addNode("Reshape", "", List.of(x, target), List.of(x.dtype()), List.of(outShape), Map.of(), null)
                .output(0);
    }

    /**
     * ONNX {@code Transpose}: permutes the axes; output axis {@code i} is input axis {@code perm[i]}.
     *
     * @param x the operand
     * @param perm the permutation of {@code [0, rank)}
     * @return the transposed value
     */
    public Value transpose(Value x, long... perm) {
        List<Dim> dims = new ArrayList<>();
        for (long p : perm) {
            dims.add(x.shape().dim((int) p));
        }
        return addNode("Transpose", "", List.of(x), List.of(x.dtype()), List.of(Shape.of(dims)),
                Map.of("perm", perm.clone()), null).output(0);
    }

    /**
     * ONNX {@code Unsqueeze}: inserts axes of size 1 at the given positions of the output.
     *
     * @param x the operand
     * @param axes output positions of the new axes (negative counts from the end)
     * @return the value with the added axes
     */
    public Value unsqueeze(Value x, long... axes) {
        int r = x.rank() + axes.length;
        boolean[] inserted = new boolean[r];
        for (long a : axes) {
            inserted[(int) (a < 0 ? a + r : a)] = true;
        }
        List<Dim> dims = new ArrayList<>();
        int j = 0;
        for (int i = 0; i < r; i++) {
            dims.add(inserted[i] ? Dim.of(1) : x.shape().dim(j++));
        }
        return addNode("Unsqueeze", "", List.of(x, ints(axes)), List.of(x.dtype()), List.of(Shape.of(dims)), Map.of(),
                null).output(0);
    }

    /**
     * ONNX {@code Squeeze}: removes the given axes, each of size 1.
     *
     * @param x the operand
     * @param axes the axes to remove (negative counts from the end)
     * @return the value without those axes
     */
    public Value squeeze(Value x, long... axes) {
        boolean[] drop = new boolean[x.rank()];
        for (long a : axes) {
            drop[(int) (a < 0 ? a + x.rank() : a)] = true;
        }
        List<Dim> dims = new ArrayList<>();
        for (int i = 0; i < x.rank(); i++) {
            if (!drop[i]) {
                dims.add(x.shape().dim(i));
            }
        }
        return addNode("Squeeze", "", List.of(x, ints(axes)), List.of(x.dtype()), List.of(Shape.of(dims)), Map.of(),
                null).output(0);
    }

    /**
     * ONNX {@code Concat}: joins values of one dtype and rank along {@code axis}; the other axes must match.
     *
     * @param axis the axis to join along (negative counts from the end)
     * @param xs the values, at least one
     * @return the concatenation
     */
    public Value concat(long axis, Value... xs) {
        int r = xs[0].rank();
        int ax = (int) (axis < 0 ? axis + r : axis);
        Dim total = Dim.of(0);
        for (Value v : xs) {
            Dim d = v.shape().dim(ax);
            total = total.isFixed() && d.isFixed() ? Dim.of(total.size() + d.size()) : Dim.unknown();
        }
        Shape s = xs[0].shape().with(ax, total);
        for (int i = 0; i < r; i++) {
            if (i != ax) {
                for (Value v : xs) {
                    if (v.shape().dim(i).isFixed() && !s.dim(i).isFixed()) {
                        s = s.with(i, v.shape().dim(i));
                    }
                }
            }
        }
        return addNode("Concat", "", Arrays.asList(xs), List.of(xs[0].dtype()), List.of(s), Map.of("axis", axis),
                null).output(0);
    }

    /** Slice along {@code axes} with constant starts/ends (ends may be {@code Long.MAX_VALUE}). */
    public Value slice(Value x, long[] starts, long[] ends, long[] axes) {
        Shape s = x.shape();
        for (int i = 0; i < axes.length; i++) {
            int ax = (int) (axes[i] < 0 ? axes[i] + x.rank() : axes[i]);
            Dim d = x.shape().dim(ax);
            if (d.isFixed()) {
                long n = d.size();
                long st = clamp(starts[i] < 0 ? starts[i] + n : starts[i], n);
                long en = clamp(ends[i] < 0 ? ends[i] + n : ends[i], n);
                s = s.with(ax, Dim.of(Math.max(0, en - st)));
            } else if (starts[i] >= 0 && ends[i] >= 0 && ends[i] != Long.MAX_VALUE) {
                s = s.with(ax, Dim.of(ends[i] - starts[i]));
            } else {
                s = s.with(ax, Dim.unknown());
            }
        }
        return addNode("Slice", "", List.of(x, ints(starts), ints(ends), ints(axes)), List.of(x.dtype()), List.of(s),
                Map.of(), null).output(0);
    }

    /** Slice along {@code axis} with computed start/end (1-D int64 values of length 1). */
    public Value slice(Value x, Value start, Value end, long axis, Shape outShape) {
        return addNode("Slice", "", List.of(x, start, end, ints(axis)), List.of(x.dtype()), List.of(outShape),
                Map.of(), null).output(0);
    }

    private static long clamp(long v, long n) {
        return Math.max(0, Math.min(v, n));
    }

    /** Split along {@code axis} into pieces of the given sizes. */
    public List<Value> split(Value x, long axis, long... sizes) {
        int ax = (int) (axis < 0 ? axis + x.rank() : axis);
        List<DType> types = new ArrayList<>();
        List<Shape> shapes = new ArrayList<>();
        for (long s : sizes) {
            types.add(x.dtype());
            shapes.add(x.shape().with(ax, Dim.of(s)));
        }
        return addNode("Split", "", List.of(x, ints(sizes)), types, shapes, Map.of("axis", axis), null).outputs();
    }

    /** Gather along {@code axis} (embedding lookup with axis 0). */
    public Value gather(Value data, Value indices, long axis) {
        int ax = (int) (axis < 0 ? axis + data.rank() : axis);
        List<Dim> dims = new ArrayList<>(data.shape().dims().subList(0, ax));
        dims.addAll(indices.shape().dims());
        dims.addAll(data.shape().dims().subList(ax + 1, data.rank()));
        return addNode("Gather", "", List.of(data, indices), List.of(data.dtype()), List.of(Shape.of(dims)),
                Map.of("axis", axis), null).output(0);
    }

    /** Expand to a computed shape; {@code outShape} is the static result shape. */
    public Value expand(Value x, Value shape, Shape outShape) {
        return addNode("Expand", "", List.of(x, shape), List.of(x.dtype()), List.of(outShape), Map.of(), null)
                .output(0);
    }

    /** {@code Range(start, limit, delta)} of rank-0 inputs, a 1-D result of unknown length. */
    public Value range(Value start, Value limit, Value delta) {
        return addNode("Range", "", List.of(start, limit, delta), List.of(start.dtype()), List.of(Shape.of(Dim.unknown())),
                Map.of(), null).output(0);
    }

    // ------------------------------------------------------------------ reductions and normalization

    /**
     * ONNX {@code ReduceMean} over {@code axes}.
     *
     * @param x the operand
     * @param keepDims whether the reduced axes stay as size 1
     * @param axes the axes to average over
     * @return the mean
     */
    public Value reduceMean(Value x, boolean keepDims, long... axes) {
        return reduce("ReduceMean", x, keepDims, axes);
    }

    /**
     * ONNX {@code ReduceSum} over {@code axes}.
     *
     * @param x the operand
     * @param keepDims whether the reduced axes stay as size 1
     * @param axes the axes to sum over
     * @return the sum
     */
    public Value reduceSum(Value x, boolean keepDims, long... axes) {
        return reduce("ReduceSum", x, keepDims, axes);
    }

    /**
     * ONNX {@code ReduceMax} over {@code axes}.
     *
     * @param x the operand
     * @param keepDims whether the reduced axes stay as size 1
     * @param axes the axes to take the maximum over
     * @return the maximum
     */
    public Value reduceMax(Value x, boolean keepDims, long... axes) {
        return reduce("ReduceMax", x, keepDims, axes);
    }

    private Value reduce(String op, Value x, boolean keepDims, long... axes) {
        boolean[] red = new boolean[x.rank()];
        for (long a : axes) {
            red[(int) (a < 0 ? a + x.rank() : a)] = true;
        }
        List<Dim> dims = new ArrayList<>();
        for (int i = 0; i < x.rank(); i++) {
            if (red[i]) {
                if (keepDims) {
                    dims.add(Dim.of(1));
                }
            } else {
                dims.add(x.shape().dim(i));
            }
        }
        return addNode(op, "", List.of(x, ints(axes)), List.of(x.dtype()), List.of(Shape.of(dims)),
                Map.of("keepdims", keepDims ? 1L : 0L), null).output(0);
    }

    /**
     * ONNX {@code Softmax} along {@code axis}.
     *
     * @param x the operand (logits)
     * @param axis the axis that sums to 1
     * @return the probabilities
     */
    public Value softmax(Value x, long axis) {
        return unary("Softmax", x, Map.of("axis", axis));
    }

    /**
     * ONNX {@code LogSoftmax} along {@code axis}: {@code x - log(sum(exp(x)))}, computed stably.
     *
     * @param x the operand (logits)
     * @param axis the normalised axis
     * @return the log-probabilities
     */
    public Value logSoftmax(Value x, long axis) {
        return unary("LogSoftmax", x, Map.of("axis", axis));
    }

    /** ONNX LayerNormalization over the last axis ({@code bias} may be null). */
    public Value layerNorm(Value x, Value scale, Value bias, double epsilon) {
        List<Value> in = bias == null ? List.of(x, scale) : List.of(x, scale, bias);
        return addNode("LayerNormalization", "", in, List.of(x.dtype()), List.of(x.shape()),
                Map.of("axis", -1L, "epsilon", epsilon), null).output(0);
    }

    // ------------------------------------------------------------------ helpers

    private String claim(String name) {
        if (names.containsKey(name)) {
            throw new IllegalArgumentException("duplicate value name '" + name + "'");
        }
        names.put(name, null);
        return name;
    }

    private String claimNode(String opType) {
        StringBuilder sb = new StringBuilder();
        List<String> list = new ArrayList<>(scopes);
        Collections.reverse(list);
        for (String s : list) {
            sb.append(s).append('/');
        }
        sb.append(opType).append('_').append(counter++);
        return sb.toString();
    }

    private String fresh(String base) {
        return base + "_" + counter++;
    }

    /** Records a created value for lookup by name (called for every value). */
    void register(Value v) {
        names.put(v.name(), v);
    }

    /** Number of nodes, for tests and diagnostics. */
    public int size() {
        return nodes.size();
    }
}
