package org.peft4j.autodiff;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.peft4j.autodiff.testops.TestOps;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Node;
import org.peft4j.graph.Shape;
import org.peft4j.graph.Value;
import org.peft4j.graph.ValueType;
import org.peft4j.tensor.DType;

/** Registration, lookup, shape inference through {@code Graph.node} and the errors of the op registry. */
class OpsRegistryTest {
    private static final GradientRule RULE = (c, n, d, i) -> d.get(0);

    @BeforeAll
    static void registerTestOps() {
        // TEST_DOMAIN is a compile-time constant: reading it does not initialize TestOps, which registers its ops
        assertThat(TestOps.SQUARE.key()).isEqualTo("org.peft4j.test:Square");
    }

    private static OpDef def(String op, GradientRule rule, boolean cuda) {
        return OpDef.builder(TestOps.TEST_DOMAIN, op).gradient(rule).cudaKernel(cuda).build();
    }

    @Test
    void everyOpOfTheFormerRuleTableKeepsItsRuleAndCudaFlag() {
        for (String op : List.of("Identity", "Add", "Sub", "Mul", "Div", "Neg", "Pow", "Sqrt", "Reciprocal", "Exp",
                "Log", "Sin", "Cos", "Tanh", "Sigmoid", "Erf", "Relu", "Cast", "Where", "Expand", "Reshape",
                "Unsqueeze", "Squeeze", "Transpose", "MatMul", "Gemm", "Concat", "Split", "Slice", "Gather",
                "GatherElements", "Softmax", "LogSoftmax", "ReduceSum", "ReduceMean", "LayerNormalization")) {
            OpDef d = Ops.get("", op);
            assertThat(d.gradient()).as(op).isPresent();
            assertThat(d.hasCudaKernel()).as(op).isTrue();
        }
        assertThat(Ops.get(Graph.MS_DOMAIN, "FusedMatMul").gradient()).isPresent();
        assertThat(Ops.find("", "Floor")).isEmpty();
        assertThatThrownBy(() -> Ops.get("", "Floor")).hasMessageContaining("no definition for op Floor");
    }

    @Test
    void registeringTheSameDefinitionAgainIsANoOpAndADifferentOneFails() {
        OpDef first = Ops.register(def("Twice", RULE, false));
        assertThat(Ops.register(first)).isSameAs(first);
        assertThat(Ops.register(def("Twice", RULE, false))).isSameAs(first);
        assertThatThrownBy(() -> Ops.register(def("Twice", (c, n, d, i) -> null, false)))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("op org.peft4j.test:Twice is already registered with a different definition");
        assertThatThrownBy(() -> Ops.register(def("Twice", RULE, true))).isInstanceOf(IllegalStateException.class);
        assertThat(Ops.get(TestOps.TEST_DOMAIN, "Twice")).isSameAs(first);
        // the same op type in another domain is another op
        assertThat(Ops.register(OpDef.builder("org.peft4j.other", "Twice").build())).isNotSameAs(first);
    }

    @Test
    void concurrentRegistrationKeepsOneDefinitionPerOp() throws Exception {
        int threads = 8;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CountDownLatch start = new CountDownLatch(1);
        OpDef shared = def("Shared", RULE, false);
        List<Future<Boolean>> raced = new ArrayList<>();
        try {
            for (int t = 0; t < threads; t++) {
                int id = t;
                Callable<Boolean> task = () -> {
                    start.await();
                    for (int k = 0; k < 100; k++) {
                        Ops.register(def("Op" + id + "_" + k, RULE, false));
                    }
                    assertThat(Ops.register(shared)).isSameAs(shared);
                    try {
                        // a different rule per thread (the lambda captures id)
                        Ops.register(def("Raced", (c, n, d, i) -> id < 0 ? d.get(0) : null, false));
                        return true;
                    } catch (IllegalStateException e) {
                        return false;
                    }
                };
                raced.add(pool.submit(task));
            }
            start.countDown();
            int winners = 0;
            for (Future<Boolean> f : raced) {
                winners += f.get() ? 1 : 0;
            }
            assertThat(winners).isEqualTo(1);
        } finally {
            pool.shutdown();
        }
        for (int t = 0; t < threads; t++) {
            for (int k = 0; k < 100; k++) {
                assertThat(Ops.find(TestOps.TEST_DOMAIN, "Op" + t + "_" + k)).isPresent();
            }
        }
    }

    @Test
    void graphNodeTakesTheOutputTypesFromTheDefinition() {
        assertThat(TestOps.SQUARE.shapeInference()).isPresent();
        Graph g = new Graph();
        Value x = g.input("x", DType.F32, Dim.of("b"), Dim.of(3));
        Node sq = g.node("Square", TestOps.TEST_DOMAIN, List.of(x), Map.of());
        assertThat(sq.outputs()).hasSize(1);
        assertThat(ValueType.of(sq.output(0))).isEqualTo(new ValueType(DType.F32, Shape.of(Dim.of("b"), Dim.of(3))));
        // built-in definitions type ops that have no builder method, e.g. a float Abs or a contrib FusedMatMul
        Value w = g.input("w", DType.F32, Dim.of(5), Dim.of(3));
        Node fused = g.node("FusedMatMul", Graph.MS_DOMAIN, List.of(x, w), Map.of("transB", 1L));
        assertThat(fused.output(0).shape()).isEqualTo(Shape.of(Dim.of("b"), Dim.of(5)));
        assertThat(g.node("Less", "", List.of(x, w), Map.of()).output(0).dtype()).isEqualTo(DType.BOOL);
        assertThatThrownBy(() -> g.node("Opaque", TestOps.TEST_DOMAIN, List.of(x), Map.of()))
                .hasMessageContaining("no shape inference for op org.peft4j.test:Opaque");
        assertThatThrownBy(() -> g.node("NotRegistered", TestOps.TEST_DOMAIN, List.of(x), Map.of()))
                .hasMessageContaining("no shape inference for op org.peft4j.test:NotRegistered");
    }

    @Test
    void autodiffUsesTheRegisteredRuleOfACustomDomainOp() {
        Graph g = new Graph();
        Value x = g.input("x", DType.F32, Dim.of(4));
        Value y = g.node("Square", TestOps.TEST_DOMAIN, List.of(x), Map.of()).output(0);
        Value loss = g.reduceSum(y, false, 0);
        Value dx = Autodiff.gradients(g, loss, List.of(x)).gradient(x);
        // the registered rule: Mul(Mul(dy, 2), x)
        assertThat(dx.producer().opType()).isEqualTo("Mul");
        assertThat(dx.producer().input(1)).isSameAs(x);
        Node scaled = dx.producer().input(0).producer();
        assertThat(scaled.opType()).isEqualTo("Mul");
        assertThat(scaled.input(1).constant().getFloat(0)).isEqualTo(2f);
    }

    @Test
    void opsWithoutARuleFailWithTheClearMessage() {
        Graph g = new Graph();
        Value x = g.input("x", DType.F32, Dim.of(4));
        Value y = g.node("Opaque", TestOps.TEST_DOMAIN, List.of(x), List.of(DType.F32), List.of(x.shape()), Map.of())
                .output(0);
        Value loss = g.reduceSum(y, false, 0);
        assertThatThrownBy(() -> Autodiff.gradients(g, loss, List.of(x)))
                .hasMessageContaining("no gradient rule for op org.peft4j.test:Opaque")
                .hasMessageContaining("com.microsoft:FusedMatMul").hasMessageContaining("org.peft4j.test:Square");
        // a custom backward makes the same node differentiable
        Autodiff.customBackward(g, y.producer(), RULE);
        assertThat(Autodiff.gradients(g, loss, List.of(x)).gradient(x)).isNotNull();
        assertThatThrownBy(() -> Autodiff.customBackward(g, y.producer(), (c, n, d, i) -> null))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("already has a custom backward");
        assertThatThrownBy(() -> Autodiff.customBackward(new Graph(), y.producer(), RULE))
                .hasMessageContaining("is not a node of this graph");
    }
}
