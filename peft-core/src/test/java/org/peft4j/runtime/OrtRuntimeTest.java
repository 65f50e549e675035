package org.peft4j.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Map;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

class OrtRuntimeTest {

    private static Graph affine(Parameter w, Parameter b) {
        Graph g = new Graph();
        g.nameParameters(Map.of("w", w, "b", b));
        Value x = g.input("x", DType.F32, Dim.of("n"), Dim.of(3));
        g.output("y", g.gemm(x, g.param(w), g.param(b), false, true));
        return g;
    }

    @Test
    void frozenWeightsAreInitializersAndTrainableOnesInputs() {
        Parameter w = new Parameter(Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3));
        Parameter b = new Parameter(Tensor.of(new float[] {0.5f, -1}, 2));
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.defaults())) {
            CompiledGraph cg = rt.compile(affine(w, b), p -> false);
            assertThat(cg.inputNames()).containsExactly("x");
            Tensor y = cg.run(Map.of("x", Tensor.of(new float[] {1, 0, -1, 2, 2, 2}, 2, 3))).get("y");
            // hand-computed: [1-3+0.5, 4-6-1] and [12+0.5, 30-1]
            assertThat(y.toFloatArray()).containsExactly(-1.5f, -3f, 12.5f, 29f);

            CompiledGraph cg2 = rt.compile(affine(w, b), p -> p == b);
            assertThat(cg2.inputNames()).containsExactlyInAnyOrder("x", "b");
            Tensor y2 = cg2.run(Map.of("x", Tensor.of(new float[] {1, 0, -1}, 1, 3),
                    "b", Tensor.of(new float[] {10, 20}, 2))).get("y");
            assertThat(y2.toFloatArray()).containsExactly(8f, 18f);
        }
    }

    @Test
    void sessionsAreCachedPerStructureAndWeights() {
        Parameter w = new Parameter(Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3));
        Parameter b = new Parameter(Tensor.of(new float[] {0, 0}, 2));
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.defaults())) {
            CompiledGraph a = rt.compile(affine(w, b), p -> false);
            assertThat(rt.compile(affine(w, b), p -> false).sharesSessionWith(a)).isTrue();
            Parameter w2 = new Parameter(Tensor.of(new float[] {0, 0, 0, 0, 0, 1}, 2, 3));
            CompiledGraph c = rt.compile(affine(w2, b), p -> false);
            assertThat(c.sharesSessionWith(a)).isFalse();
            assertThat(c.run(Map.of("x", Tensor.of(new float[] {1, 1, 7}, 1, 3))).get("y").toFloatArray())
                    .containsExactly(0f, 7f);
            assertThat(rt.cachedSessions()).isEqualTo(2);
        }
    }

    @Test
    void zeroCopyWeightsSeeWritesToTheBuffer() {
        // With prepacking disabled ORT reads the caller's buffer in place: a write after compiling is visible.
        Tensor wt = Tensor.of(new float[] {1, 0, 0, 0, 1, 0}, 2, 3);
        Parameter w = new Parameter(wt);
        Parameter b = new Parameter(Tensor.of(new float[] {0, 0}, 2));
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.defaults())) {
            CompiledGraph cg = rt.compile(affine(w, b), p -> false);
            Tensor x = Tensor.of(new float[] {3, 4, 5}, 1, 3);
            assertThat(cg.run(Map.of("x", x)).get("y").toFloatArray()).containsExactly(3f, 4f);
            wt.write(buf -> buf.putFloat(0, 2f));
            assertThat(cg.run(Map.of("x", x)).get("y").toFloatArray()).containsExactly(6f, 4f);
        }
    }

    @Test
    void aWeightMarkedModifiedGetsANewSession() {
        // With zero-copy off ORT may prepack (copy) the weight at session creation, so a session compiled before an
        // in-place write must not be reused after it: Tensor#markModified bumps the version in the cache key.
        Tensor wt = Tensor.of(new float[] {1, 0, 0, 0, 1, 0}, 2, 3);
        Parameter w = new Parameter(wt);
        Parameter b = new Parameter(Tensor.of(new float[] {0, 0}, 2));
        RuntimeOptions copying = RuntimeOptions.builder().optZeroCopyWeights(false).build();
        try (OrtRuntime rt = new OrtRuntime(copying)) {
            Tensor x = Tensor.of(new float[] {3, 4, 5}, 1, 3);
            CompiledGraph before = rt.compile(affine(w, b), p -> false);
            assertThat(before.run(Map.of("x", x)).get("y").toFloatArray()).containsExactly(3f, 4f);
            assertThat(wt.version()).isZero();
            assertThat(rt.compile(affine(w, b), p -> false).sharesSessionWith(before)).isTrue();

            wt.write(buf -> buf.putFloat(0, 2f));
            assertThat(wt.version()).as("Tensor#write marks the tensor modified").isEqualTo(1);
            CompiledGraph after = rt.compile(affine(w, b), p -> false);
            assertThat(after.sharesSessionWith(before)).isFalse();
            assertThat(after.run(Map.of("x", x)).get("y").toFloatArray()).containsExactly(6f, 4f);
            assertThat(rt.compile(affine(w, b), p -> false).sharesSessionWith(after)).isTrue();
        }
    }

    @Test
    void tensorsCanOnlyBeWrittenThroughTheVersionedApi() {
        Tensor t = Tensor.of(new float[] {1, 2}, 2);
        assertThatThrownBy(() -> t.data().putFloat(0, 5f)).isInstanceOf(java.nio.ReadOnlyBufferException.class);
        t.writeFloats(new float[] {5, 6});
        assertThat(t.toFloatArray()).containsExactly(5f, 6f);
        assertThat(t.version()).isEqualTo(1);
        Tensor mapped = Tensor.wrap(DType.F32, new long[] {2}, t.data());
        assertThatThrownBy(() -> mapped.writeFloats(new float[] {1, 1})).hasMessageContaining("read-only");
    }

    @Test
    void outputsWrittenInPlaceByAGraphAreMarkedModified() {
        Graph g = new Graph();
        Value x = g.input("x", DType.F32, Dim.of(2));
        g.output("y", g.mul(x, g.scalar(2.0, DType.F32)));
        Tensor target = Tensor.zeros(DType.F32, 2);
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.defaults()); CompiledGraph cg = rt.compile(g, p -> false)) {
            cg.runInto(Map.of("x", Tensor.of(new float[] {1, 3}, 2)), Map.of("y", target));
        }
        assertThat(target.toFloatArray()).containsExactly(2f, 6f);
        assertThat(target.version()).isEqualTo(1);
    }

    @Test
    void anEvictedSessionStaysOpenWhileLeasedAndClosesWithItsLastLease() {
        Parameter b = new Parameter(Tensor.of(new float[] {0, 0}, 2));
        RuntimeOptions one = RuntimeOptions.builder().optMaxCachedSessions(1).build();
        try (OrtRuntime rt = new OrtRuntime(one)) {
            Parameter w = new Parameter(Tensor.of(new float[] {1, 0, 0, 0, 1, 0}, 2, 3));
            CompiledGraph held = rt.compile(affine(w, b), p -> false);
            Tensor x = Tensor.of(new float[] {3, 4, 5}, 1, 3);
            // another structure evicts the first session from the one-entry cache
            CompiledGraph other = rt.compile(affine(new Parameter(Tensor.of(new float[6], 2, 3)), b), p -> false);
            assertThat(rt.cachedSessions()).isEqualTo(1);
            assertThat(held.isClosed()).isFalse();
            assertThat(held.run(Map.of("x", x)).get("y").toFloatArray()).containsExactly(3f, 4f);
            assertThat(rt.openSessions()).isEqualTo(2);
            held.close();
            assertThat(held.isClosed()).isTrue();
            assertThat(rt.openSessions()).as("the evicted session closed with its last lease").isEqualTo(1);
            assertThatThrownBy(() -> held.run(Map.of("x", x))).hasMessageContaining("closed");
            // the cached one survives its lease: the cache still holds it
            other.close();
            assertThat(rt.openSessions()).isEqualTo(1);
            CompiledGraph again = rt.compile(affine(new Parameter(Tensor.of(new float[6], 2, 3)), b), p -> false);
            assertThat(again.isClosed()).isFalse();
        }
    }

    @Test
    void shapeOnlyParametersCannotBeCompiledAsInitializers() {
        Parameter w = new Parameter(DType.F32, 2, 3);
        Parameter b = new Parameter(DType.F32, 2);
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.defaults())) {
            assertThatThrownBy(() -> rt.compile(affine(w, b), p -> false))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("'w'").hasMessageContaining("shape-only");
        }
    }

    @Test
    void cudaWithoutProviderFailsClearlyOrFallsBack() {
        assertThatThrownBy(() -> new OrtRuntime(RuntimeOptions.builder().optDevice(Device.cuda()).build()))
                .isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("CUDA 12.x").hasMessageContaining("cuDNN 9.x")
                .hasMessageContaining("'cuda'");
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.builder().optDevice(Device.cuda().orCpuFallback()).build())) {
            assertThat(rt.device()).isEqualTo(Device.cpu());
            Parameter w = new Parameter(Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3));
            Parameter b = new Parameter(Tensor.of(new float[] {0, 0}, 2));
            assertThat(rt.compile(affine(w, b), p -> false).run(Map.of("x", Tensor.of(new float[] {1, 1, 1}, 1, 3)))
                    .get("y").toFloatArray()).containsExactly(6f, 15f);
        }
    }

    @Test
    void closedRuntimeRefusesWork() {
        OrtRuntime rt = new OrtRuntime(RuntimeOptions.defaults());
        rt.close();
        Parameter w = new Parameter(Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3));
        Parameter b = new Parameter(Tensor.of(new float[] {0, 0}, 2));
        assertThatThrownBy(() -> rt.compile(affine(w, b), p -> false)).hasMessageContaining("closed");
    }

    @Test
    void float64GraphsRun() {
        Graph g = new Graph();
        Value x = g.input("x", DType.F64, Dim.of(2));
        g.output("y", g.mul(g.sqrt(x), g.scalar(2.0, DType.F64)));
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.defaults())) {
            double[] y = rt.compile(g, p -> false).run(Map.of("x", Tensor.of(new double[] {4, 2}, 2))).get("y")
                    .toDoubleArray();
            assertThat(y[0]).isEqualTo(4.0);
            assertThat(y[1]).isCloseTo(2 * Math.sqrt(2), within(1e-15));
        }
    }
}
