package org.peft4j.autodiff;

import static org.peft4j.autodiff.GradientCheck.values;

import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.nn.Functional;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.runtime.RuntimeOptions;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/** Every gradient rule against central finite differences in float64 graphs. */
class GradientRulesTest {
    static OrtRuntime rt;

    @BeforeAll
    static void start() {
        rt = new OrtRuntime(RuntimeOptions.defaults());
    }

    @AfterAll
    static void stop() {
        rt.close();
    }

    static Arguments c(String label, long[][] shapes, double lo, double hi, Function<List<Value>, Value> f) {
        double[][] v = new double[shapes.length][];
        for (int k = 0; k < shapes.length; k++) {
            v[k] = values((int) Tensor.numel(shapes[k]), label.hashCode() + k, lo, hi);
        }
        return Arguments.of(label, shapes, v, f);
    }

    static long[][] s(long[]... shapes) {
        return shapes;
    }

    static long[] d(long... dims) {
        return dims;
    }

    static Graph g(List<Value> in) {
        return in.get(0).graph();
    }

    static Stream<Arguments> cases() {
        return Stream.of(
                c("Add broadcast", s(d(3, 4), d(4)), -1, 1, in -> g(in).add(in.get(0), in.get(1))),
                c("Sub broadcast", s(d(3, 4), d(3, 1)), -1, 1, in -> g(in).sub(in.get(0), in.get(1))),
                c("Mul broadcast", s(d(2, 3, 4), d(1, 4)), -1, 1, in -> g(in).mul(in.get(0), in.get(1))),
                c("Div broadcast", s(d(3, 4), d(4)), 0.5, 2, in -> g(in).div(in.get(0), in.get(1))),
                c("Pow", s(d(3, 4), d(1)), 0.5, 2, in -> g(in).pow(in.get(0), in.get(1))),
                c("Sqrt", s(d(5)), 0.5, 2, in -> g(in).sqrt(in.get(0))),
                c("Reciprocal", s(d(5)), 0.5, 2, in -> g(in).reciprocal(in.get(0))),
                c("Exp", s(d(5)), -1, 1, in -> g(in).exp(in.get(0))),
                c("Log", s(d(5)), 0.5, 2, in -> g(in).log(in.get(0))),
                c("Sin", s(d(5)), -2, 2, in -> g(in).sin(in.get(0))),
                c("Cos", s(d(5)), -2, 2, in -> g(in).cos(in.get(0))),
                c("Tanh", s(d(5)), -2, 2, in -> g(in).tanh(in.get(0))),
                c("Sigmoid", s(d(5)), -2, 2, in -> g(in).sigmoid(in.get(0))),
                c("Neg and Identity", s(d(5)), -2, 2, in -> g(in).identity(g(in).neg(in.get(0)))),
                c("Erf (exact GELU) in float32", s(d(6)), -2, 2, in -> g(in).cast(Functional.geluErf(g(in),
                        g(in).cast(in.get(0), DType.F32)), DType.F64)),
                c("GELU tanh (gelu_new)", s(d(6)), -2, 2, in -> Functional.geluTanh(g(in), in.get(0))),
                c("SiLU", s(d(6)), -2, 2, in -> Functional.silu(g(in), in.get(0))),
                c("Relu", s(d(6)), 0.1, 1, in -> g(in).node("Relu", "", List.of(g(in).sub(in.get(0),
                        g(in).scalar(0.55, DType.F64))), List.of(DType.F64), List.of(in.get(0).shape()), Map.of())
                        .output(0)),
                c("Cast through float32", s(d(4)), -1, 1, in -> g(in).cast(g(in).mul(g(in).cast(in.get(0), DType.F32),
                        g(in).scalar(3, DType.F32)), DType.F64)),
                c("Where", s(d(2, 3), d(3)), -1, 1, in -> {
                    Graph g = g(in);
                    Value cond = g.greater(in.get(0), g.scalar(0, DType.F64));
                    return g.where(cond, in.get(0), in.get(1));
                }),
                c("Expand", s(d(3, 1)), -1, 1, in -> g(in).expand(in.get(0), g(in).ints(2, 3, 4),
                        org.peft4j.graph.Shape.of(2, 3, 4))),
                c("Reshape", s(d(2, 6)), -1, 1, in -> g(in).mul(g(in).reshape(in.get(0), 3, 4), g(in).reshape(
                        in.get(0), 3, 4))),
                c("Unsqueeze and Squeeze", s(d(2, 3)), -1, 1, in -> g(in).squeeze(g(in).mul(g(in).unsqueeze(
                        in.get(0), 1), g(in).unsqueeze(in.get(0), 1)), 1)),
                c("Transpose", s(d(2, 3, 4)), -1, 1, in -> g(in).transpose(in.get(0), 2, 0, 1)),
                c("MatMul batched x 2-D", s(d(2, 3, 4), d(4, 5)), -1, 1, in -> g(in).matmul(in.get(0), in.get(1))),
                c("MatMul batched x batched", s(d(2, 3, 4), d(2, 4, 5)), -1, 1,
                        in -> g(in).matmul(in.get(0), in.get(1))),
                c("MatMul broadcast batch", s(d(2, 1, 3, 4), d(3, 4, 2)), -1, 1,
                        in -> g(in).matmul(in.get(0), in.get(1))),
                c("Gemm", s(d(3, 4), d(4, 5), d(5)), -1, 1, in -> g(in).gemm(in.get(0), in.get(1), in.get(2), false,
                        false)),
                c("Gemm transB", s(d(3, 4), d(5, 4), d(5)), -1, 1, in -> g(in).gemm(in.get(0), in.get(1), in.get(2),
                        false, true)),
                c("Gemm transA", s(d(4, 3), d(4, 5)), -1, 1, in -> g(in).gemm(in.get(0), in.get(1), null, true,
                        false)),
                c("Gemm transA transB", s(d(4, 3), d(5, 4), d(3, 5)), -1, 1, in -> g(in).gemm(in.get(0), in.get(1),
                        in.get(2), true, true)),
                c("Linear over 3-D input", s(d(2, 3, 4), d(5, 4), d(5)), -1, 1, in -> Functional.linear(g(in),
                        in.get(0), in.get(1), in.get(2), true)),
                c("Conv1D over 3-D input", s(d(2, 3, 4), d(4, 5), d(5)), -1, 1, in -> Functional.linear(g(in),
                        in.get(0), in.get(1), in.get(2), false)),
                c("Concat", s(d(2, 3), d(2, 2)), -1, 1, in -> g(in).concat(1, in.get(0), in.get(1), in.get(0))),
                c("Split with an unused part", s(d(2, 7)), -1, 1, in -> {
                    List<Value> parts = g(in).split(in.get(0), 1, 2, 3, 2);
                    return g(in).mul(parts.get(0), parts.get(2));
                }),
                c("Slice (rotate_half)", s(d(2, 6)), -1, 1, in -> {
                    Graph g = g(in);
                    Value x1 = g.slice(in.get(0), new long[] {0}, new long[] {3}, new long[] {-1});
                    Value x2 = g.slice(in.get(0), new long[] {3}, new long[] {6}, new long[] {-1});
                    return g.concat(-1, g.neg(x2), x1);
                }),
                c("Slice negative end", s(d(2, 5)), -1, 1, in -> g(in).slice(in.get(0), new long[] {1},
                        new long[] {-1}, new long[] {1})),
                c("Gather rows (embedding)", s(d(5, 3)), -1, 1, in -> g(in).gather(in.get(0), g(in).constant(
                        Tensor.of(new long[] {4, 1, 1, 0}, 2, 2)), 0)),
                c("GatherElements", s(d(2, 4)), -1, 1, in -> g(in).node("GatherElements", "", List.of(in.get(0),
                        g(in).constant(Tensor.of(new long[] {3, 0, 1, 1}, 2, 2))), List.of(DType.F64),
                        List.of(org.peft4j.graph.Shape.of(2, 2)), Map.of("axis", 1L)).output(0)),
                c("Softmax", s(d(2, 5)), -2, 2, in -> g(in).softmax(in.get(0), -1)),
                c("LogSoftmax", s(d(2, 5)), -2, 2, in -> g(in).logSoftmax(in.get(0), -1)),
                c("ReduceSum keepdims", s(d(2, 3, 4)), -1, 1, in -> g(in).reduceSum(in.get(0), true, 1)),
                c("ReduceSum drop dims", s(d(2, 3, 4)), -1, 1, in -> g(in).reduceSum(in.get(0), false, 0, 2)),
                c("ReduceMean (RMSNorm)", s(d(2, 3, 4), d(4)), 0.5, 1.5, in -> {
                    Graph g = g(in);
                    Value x = in.get(0);
                    Value inv = g.reciprocal(g.sqrt(g.addScalar(g.reduceMean(g.mul(x, x), true, -1), 1e-6)));
                    return g.mul(in.get(1), g.mul(x, inv));
                }),
                c("LayerNormalization", s(d(2, 3, 5), d(5), d(5)), -1, 1, in -> g(in).layerNorm(in.get(0), in.get(1),
                        in.get(2), 1e-5)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesFiniteDifferences(String label, long[][] shapes, double[][] values, Function<List<Value>, Value> f) {
        if (label.contains("float32")) {
            // ORT's CPU Erf has no float64 kernel: check through float32 with a coarse step
            GradientCheck.check(rt, label, shapes, values, f, 2e-3, 1e-2);
        } else {
            GradientCheck.check(rt, label, shapes, values, f, 1e-6);
        }
    }
}
