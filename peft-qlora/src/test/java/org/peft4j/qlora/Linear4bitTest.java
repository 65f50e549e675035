package org.peft4j.qlora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.peft4j.autodiff.Autodiff;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Node;
import org.peft4j.graph.Value;
import org.peft4j.runtime.CompiledGraph;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * {@link Linear4bit} against bitsandbytes 0.50.2 (portable path; {@code interop/fixtures/layer/linear4bit.*}): the
 * dequantized weight bit for bit (double-quantized absmax de-nested in the graph, odd sizes, partial blocks, FP4,
 * blocksize 32), the forward {@code bnb.nn.Linear4bit(x)} and torch autograd's input gradient, with both kernels
 * (ORT's MatMulBnb4 and dequantize + Gemm); plus a float64 finite-difference check of the input gradient.
 */
class Linear4bitTest {
    static Map<String, Tensor> t;
    static JsonObject meta;

    @BeforeAll
    static void load() throws Exception {
        t = LayerFixtures.layers();
        meta = LayerFixtures.layerMeta();
    }

    @AfterEach
    void resetKernel() {
        Linear4bit.Kernel.forced = null;
    }

    static List<String> cases() {
        return List.of("nf4_dq", "fp4", "nf4_odd", "nf4_nested2", "nf4_b32");
    }

    static List<Arguments> casesAndKernels() {
        List<Arguments> out = new ArrayList<>();
        for (String c : cases()) {
            for (Linear4bit.Kernel k : Linear4bit.Kernel.values()) {
                out.add(Arguments.of(c, k));
            }
        }
        return out;
    }

    @Test
    void apiAsBitsandbytes() {
        Linear4bit l = new Linear4bit(33, 7, true, QuantType.NF4, 64, true, DType.F32, DType.F16);
        assertThat(l.weight().dtype()).isEqualTo(DType.U8);
        assertThat(l.weight().shape()).containsExactly(116, 1);
        assertThat(l.weight().trainable()).isFalse();
        assertThat(l.bias().dtype()).isEqualTo(DType.F16);
        assertThat(l.bias().trainable()).isTrue();
        l.requiresGrad(true);
        assertThat(l.weight().trainable()).as("requires_grad_ cannot make packed codes trainable").isFalse();
        assertThat(l.numTrainableParameters()).isEqualTo(7);
        assertThat(l.typeName()).isEqualTo("Linear4bit");
        assertThat(l.computeDtype()).isEqualTo(DType.F32);
        assertThat(l.quantState()).isNull();
        assertThat(l.hasWeightData()).isFalse();
        assertThatThrownBy(() -> l.forward(new Graph(), new Graph().input("x", DType.F32, Dim.of(1), Dim.of(33))))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("no quantized weight");
        assertThatThrownBy(() -> new Linear4bit(8, 8, false, QuantType.NF4, 48, false, null, DType.F32))
                .hasMessageContaining("Blocksize 48");
        for (String c : cases()) {
            JsonObject m = meta.getAsJsonObject(c);
            assertThat(LayerFixtures.layer(t, meta, c, DType.F32).toString()).isEqualTo(m.get("repr").getAsString());
        }
    }

    @Test
    void setQuantizedChecksShapes() {
        Tensor packed = t.get("nf4_dq.packed");
        QuantState st = LayerFixtures.state(t, "nf4_dq.", QuantType.NF4, 64, new long[] {96, 128});
        Linear4bit l = new Linear4bit(128, 96, true, QuantType.NF4, 64, true, DType.F32, DType.F32);
        assertThatThrownBy(() -> l.setQuantized(packed.reshape(packed.numel() / 2, 2), st))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[6144, 1]");
        assertThatThrownBy(() -> new Linear4bit(96, 128, true, QuantType.NF4, 64, true, DType.F32, DType.F32)
                .setQuantized(packed, st)).hasMessageContaining("does not match");
        assertThatThrownBy(() -> new Linear4bit(128, 96, true, QuantType.FP4, 64, true, DType.F32, DType.F32)
                .setQuantized(packed, st)).hasMessageContaining("nf4/64 does not match the layer's fp4/64");
        QuantState flatAbsmax = new QuantState(QuantType.NF4, 64, new long[] {96, 128}, DType.F32,
                Tensor.zeros(DType.F32, 10), st.code(), null);
        assertThatThrownBy(() -> l.setQuantized(packed, flatAbsmax)).hasMessageContaining("expected absmax F32 [192]");
        l.setQuantized(packed.reshape(packed.numel()), st);
        assertThat(l.weight().data().shape()).containsExactly(6144, 1);
        assertThat(l.quantState()).isSameAs(st);
        assertThat(l.hasWeightData()).isTrue();
    }

    @ParameterizedTest
    @MethodSource("cases")
    void dequantizedWeightIsBitsandbytesBitForBit(String c) {
        Linear4bit l = LayerFixtures.layer(t, meta, c, DType.F32);
        float[] got = l.denseWeight().toFloatArray();
        float[] want = t.get(c + ".W_dq").toFloatArray();
        assertThat(got).hasSize(want.length);
        for (int i = 0; i < want.length; i++) {
            assertThat(Float.floatToIntBits(got[i])).as("%s element %d", c, i)
                    .isEqualTo(Float.floatToIntBits(want[i]));
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void dequantizedWeightInTheGraphIsBitsandbytesBitForBit(String c) {
        Linear4bit l = LayerFixtures.layer(t, meta, c, DType.F32);
        Graph g = new Graph();
        g.output("w", l.denseWeight(g));
        float[] got;
        try (CompiledGraph cg = OrtRuntime.shared().compile(g, p -> false)) {
            got = cg.run(Map.of()).get("w").toFloatArray();
        }
        float[] want = t.get(c + ".W_dq").toFloatArray();
        for (int i = 0; i < want.length; i++) {
            assertThat(Float.floatToIntBits(got[i])).as("%s element %d", c, i)
                    .isEqualTo(Float.floatToIntBits(want[i]));
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void setDenseWeightQuantizesAsParams4bit(String c) {
        Linear4bit want = LayerFixtures.layer(t, meta, c, DType.F32);
        Linear4bit l = new Linear4bit(want.inFeatures(), want.outFeatures(), false, want.quantType(),
                want.blocksize(), want.compressStatistics(), DType.F32, DType.F32);
        l.setDenseWeight(t.get(c + ".W"));
        assertThat(l.weight().data().contentEquals(t.get(c + ".packed"))).as(c).isTrue();
        assertThat(l.quantState().absmax().contentEquals(t.get(c + ".absmax"))).as(c).isTrue();
        assertThat(l.quantState().isNested()).isEqualTo(want.compressStatistics());
        assertThatThrownBy(() -> l.setDenseWeight(Tensor.zeros(DType.F32, 2, 2))).isInstanceOf(
                IllegalArgumentException.class);
    }

    @ParameterizedTest
    @MethodSource("casesAndKernels")
    void forwardAndInputGradientMatchBitsandbytes(String c, Linear4bit.Kernel kernel) {
        Linear4bit.Kernel.forced = kernel;
        Linear4bit l = LayerFixtures.layer(t, meta, c, DType.F32);
        Tensor x = t.get(c + ".x");
        Graph g = new Graph();
        Dim[] dims = new Dim[x.rank()];
        for (int i = 0; i < dims.length; i++) {
            dims[i] = i == dims.length - 1 ? Dim.of(x.dim(i)) : Dim.of("d" + i);
        }
        Value xv = g.input("x", DType.F32, dims);
        Value gy = g.input("gy", DType.F32, l.forward(g, xv).shape());
        Value y = g.nodes().get(g.nodes().size() - 1).output(0);
        long[] all = new long[y.rank()];
        for (int i = 0; i < all.length; i++) {
            all[i] = i;
        }
        Value loss = g.reduceSum(g.mul(y, gy), false, all);
        Value dx = Autodiff.gradients(g, loss, List.of(xv)).gradient(xv);
        g.output("y", y);
        g.output("dx", dx);
        List<String> ops = g.nodes().stream().map(Node::opType).toList();
        assertThat(ops.contains("MatMulBnb4")).isEqualTo(kernel == Linear4bit.Kernel.MATMUL_BNB4);
        assertThat(ops).doesNotContain("BitShift", "BitwiseAnd");
        Map<String, Tensor> feed = new LinkedHashMap<>();
        feed.put("x", x);
        feed.put("gy", t.get(c + ".gy"));
        Map<String, Tensor> out;
        try (CompiledGraph cg = OrtRuntime.shared().compile(g, p -> false)) {
            out = cg.run(feed);
        }
        assertThat(out.get("y").shape()).isEqualTo(t.get(c + ".y").shape());
        assertThat(relErr(out.get("y").toFloatArray(), t.get(c + ".y").toFloatArray())).as(c + " y")
                .isLessThan(2e-6);
        assertThat(relErr(out.get("dx").toFloatArray(), t.get(c + ".dx").toFloatArray())).as(c + " dx")
                .isLessThan(2e-6);
    }

    /**
     * Every dequantization in a training graph waits for a value of the step (the input, or the output gradient in
     * the backward): a dequantization that read initializers only could be run at the start of the graph and hold
     * every layer's float32 weight at once ({@code Linear4bitMemoryBench}: peak +421 MiB without the dependency,
     * +218 MiB with it, on 8 layers of [2048, 2048]).
     */
    @ParameterizedTest
    @MethodSource("kernels")
    void everyDequantizationWaitsForTheStep(Linear4bit.Kernel kernel) {
        Linear4bit.Kernel.forced = kernel;
        Linear4bit l = LayerFixtures.layer(t, meta, "nf4_dq", DType.F32);
        Graph g = new Graph();
        Value xv = g.input("x", DType.F32, Dim.of("m"), Dim.of(128));
        Value loss = g.reduceSum(g.tanh(l.forward(g, xv)), false, 0, 1);
        g.output("dx", Autodiff.gradients(g, loss, List.of(xv)).gradient(xv));
        int dequantizations = 0;
        for (Node n : g.nodes()) {
            if (n.opType().equals("Cast") && n.input(0).kind() == Value.Kind.NODE
                    && n.input(0).producer().opType().equals("Reshape")
                    && n.input(0).producer().input(0).dtype() == DType.U8) {
                // the packed weight [n, 1] and the double-quantized absmax [nblocks]
                dequantizations++;
                assertThat(n.input(0).producer().input(1).kind()).as("the unpacking's shape").isEqualTo(
                        Value.Kind.NODE);
            }
        }
        // the absmax de-nesting once (shared by forward and backward) and the weight: MatMulBnb4 dequantizes it
        // natively in the forward and once in the backward graph, dequantize + Gemm once for both
        assertThat(dequantizations).isEqualTo(2);
    }

    static List<Linear4bit.Kernel> kernels() {
        return List.of(Linear4bit.Kernel.values());
    }

    @Test
    void inputGradientByFiniteDifferencesInFloat64() {
        Linear4bit l = LayerFixtures.layer(t, meta, "nf4_odd", DType.F64);
        long in = l.inFeatures();
        Graph g = new Graph();
        Value xv = g.input("x", DType.F64, Dim.of(2), Dim.of(in));
        Value y = l.forward(g, xv);
        assertThat(y.dtype()).isEqualTo(DType.F64);
        // a non-linear loss so the gradient depends on x: sum(tanh(y) * w)
        double[] w = new double[2 * 7];
        for (int i = 0; i < w.length; i++) {
            w[i] = Math.sin(i + 1.0);
        }
        Value loss = g.reduceSum(g.mul(g.tanh(y), g.constant(Tensor.of(w, 2, 7))), false, 0, 1);
        g.output("loss", loss);
        g.output("dx", Autodiff.gradients(g, loss, List.of(xv)).gradient(xv));
        double[] x = new double[(int) (2 * in)];
        for (int i = 0; i < x.length; i++) {
            x[i] = Math.cos(0.7 * i);
        }
        try (CompiledGraph cg = OrtRuntime.shared().compile(g, p -> false)) {
            double[] dx = cg.run(Map.of("x", Tensor.of(x, 2, in))).get("dx").toDoubleArray();
            double h = 1e-6;
            for (int i = 0; i < x.length; i += 5) {
                double[] xp = x.clone();
                double[] xm = x.clone();
                xp[i] += h;
                xm[i] -= h;
                double fp = cg.run(Map.of("x", Tensor.of(xp, 2, in))).get("loss").toDoubleArray()[0];
                double fm = cg.run(Map.of("x", Tensor.of(xm, 2, in))).get("loss").toDoubleArray()[0];
                assertThat(dx[i]).as("dx[%d]", i).isCloseTo((fp - fm) / (2 * h), org.assertj.core.data.Offset
                        .offset(1e-7));
            }
        }
    }

    /** max |got - want| / max |want|. */
    static double relErr(float[] got, float[] want) {
        double scale = 0;
        for (float v : want) {
            scale = Math.max(scale, Math.abs(v));
        }
        return Fixtures.maxAbsDiff(got, want) / scale;
    }
}
