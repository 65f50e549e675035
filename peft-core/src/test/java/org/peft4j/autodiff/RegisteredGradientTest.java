package org.peft4j.autodiff;

import static org.assertj.core.api.Assertions.assertThat;
import static org.peft4j.autodiff.GradientCheck.values;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.peft4j.autodiff.testops.TestOps;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Node;
import org.peft4j.graph.Value;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.runtime.RuntimeOptions;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * Gradients that come from outside the built-in table, against central finite differences: a contrib op registered
 * by another package ({@code com.microsoft:Inverse}, float64), peft-core's registered {@code com.microsoft:FusedMatMul}
 * (float32, the only type of its CPU kernel) and a custom backward given to one node.
 */
class RegisteredGradientTest {
    static OrtRuntime rt;

    @BeforeAll
    static void start() {
        rt = new OrtRuntime(RuntimeOptions.defaults());
    }

    @AfterAll
    static void stop() {
        rt.close();
    }

    /** Well-conditioned matrices: 2 I plus entries in [-0.5, 0.5). */
    private static double[] wellConditioned(int batch, int n, long seed) {
        double[] v = values(batch * n * n, seed, -0.5, 0.5);
        for (int b = 0; b < batch; b++) {
            for (int i = 0; i < n; i++) {
                v[b * n * n + i * n + i] += 2;
            }
        }
        return v;
    }

    @Test
    void contribOpRegisteredByAnotherModuleMatchesFiniteDifferences() {
        // loss = sum(Inverse(X) @ B * R): the registered rule gives dX, MatMul's built-in rule gives dB
        GradientCheck.check(rt, "Inverse", new long[][] {{2, 3, 3}, {3, 2}},
                new double[][] {wellConditioned(2, 3, 7), values(6, 8, -1, 1)},
                in -> in.get(0).graph().matmul(TestOps.inverse(in.get(0).graph(), in.get(0)), in.get(1)), 1e-6);
    }

    @ParameterizedTest(name = "transA={0} transB={1} alpha={2} batchA={3}")
    @CsvSource({"0, 0, 1.0, 2", "0, 1, 1.0, 2", "1, 0, 0.5, 2", "1, 1, -1.5, 2", "0, 1, 0.125, 0"})
    void fusedMatMulGradientMatchesFiniteDifferences(long transA, long transB, double alpha, int batchA) {
        // A is [batchA?, 3, 4] (or transposed), B is [4, 5] (or transposed) so B's gradient sums the batch away
        long[] a = transA != 0 ? new long[] {4, 3} : new long[] {3, 4};
        long[] shapeA = batchA > 0 ? new long[] {batchA, a[0], a[1]} : a;
        long[] shapeB = transB != 0 ? new long[] {5, 4} : new long[] {4, 5};
        String label = "FusedMatMul " + transA + transB + alpha + batchA;
        GradientCheck.check(rt, label, new long[][] {shapeA, shapeB}, new double[][] {
            values((int) Tensor.numel(shapeA), 11, -1, 1), values((int) Tensor.numel(shapeB), 12, -1, 1)}, in -> {
                Graph g = in.get(0).graph();
                Node n = g.node("FusedMatMul", Graph.MS_DOMAIN, List.of(g.cast(in.get(0), DType.F32),
                        g.cast(in.get(1), DType.F32)), Map.of("transA", transA, "transB", transB, "alpha", alpha));
                assertThat(n.output(0).shape().sizes()).isEqualTo(batchA > 0 ? new long[] {batchA, 3, 5}
                        : new long[] {3, 5});
                return g.cast(n.output(0), DType.F64);
            }, 2e-3, 1e-2);
    }

    @Test
    void customBackwardOfOneNodeMatchesFiniteDifferences() {
        // Abs has no gradient rule; this one node gets d|x| = sign(x) dy, built from standard ops
        AtomicInteger calls = new AtomicInteger();
        GradientCheck.check(rt, "Abs with a custom backward", new long[][] {{2, 5}},
                new double[][] {values(10, 3, -1, 1)}, in -> {
                    Graph g = in.get(0).graph();
                    Value x = g.mul(in.get(0), in.get(0));
                    Value shifted = g.addScalar(in.get(0), -0.1);
                    Node abs = g.node("Abs", "", List.of(shifted), Map.of());
                    Autodiff.customBackward(g, abs, (c, n, d, i) -> {
                        calls.incrementAndGet();
                        Value v = n.input(0);
                        return c.graph().where(c.graph().greater(v, c.scalar(0, v)), d.get(0),
                                c.graph().neg(d.get(0)));
                    });
                    return g.mul(abs.output(0), x);
                }, 1e-6);
        assertThat(calls).hasValue(1);
    }

    @Test
    void customBackwardTakesPrecedenceOverTheOpRule() {
        // a straight-through Tanh: with loss = sum(tanh(x) * R) the gradient is R itself, not R (1 - tanh^2)
        Graph g = new Graph();
        Value x = g.input("x", DType.F64, Dim.of(6));
        double[] r = new Random(5).doubles(6, -1, 1).toArray();
        Value y = g.tanh(x);
        Autodiff.customBackward(g, y.producer(), (c, n, d, i) -> d.get(0));
        Value loss = g.reduceSum(g.mul(y, g.constant(Tensor.of(r, 6))), false, 0);
        Autodiff.Result res = Autodiff.gradients(g, loss, List.of(x));
        g.output("grad", res.gradient(x));
        Map<String, Tensor> feed = new LinkedHashMap<>();
        feed.put("x", Tensor.of(values(6, 9, -2, 2), 6));
        assertThat(rt.compile(g, p -> false).run(feed).get("grad").toDoubleArray()).containsExactly(r);
    }
}
