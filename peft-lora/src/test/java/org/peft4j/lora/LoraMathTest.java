package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.nn.Linear;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/** The merge arithmetic against a plain Java reference, in both weight layouts, with and without the check. */
class LoraMathTest {
    static final int OUT = 7;
    static final int IN = 5;
    static final int R = 3;

    static Tensor random(Random rng, long... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rng.nextGaussian();
        }
        return Tensor.of(v, shape);
    }

    /** {@code s * B A} as [out, in] in double precision. */
    static double[][] delta(Tensor a, Tensor b, double s) {
        float[] av = a.toFloatArray();
        float[] bv = b.toFloatArray();
        double[][] d = new double[OUT][IN];
        for (int o = 0; o < OUT; o++) {
            for (int i = 0; i < IN; i++) {
                for (int k = 0; k < R; k++) {
                    d[o][i] += s * bv[o * R + k] * av[k * IN + i];
                }
            }
        }
        return d;
    }

    /** Entry (o, i) of a weight stored [out, in], or [in, out] when {@code fifo}. */
    static double at(float[] w, boolean fifo, int o, int i) {
        return fifo ? w[i * OUT + o] : w[o * IN + i];
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void addDeltaMatchesReferenceInBothLayouts(boolean fifo) {
        Random rng = new Random(fifo ? 2 : 1);
        Tensor w = fifo ? random(rng, IN, OUT) : random(rng, OUT, IN);
        Tensor a = random(rng, R, IN);
        Tensor b = random(rng, OUT, R);
        double[][] d = delta(a, b, 0.75);
        for (int sign : new int[] {+1, -1}) {
            for (boolean check : new boolean[] {false, true}) {
                LoraMath.Merged m = LoraMath.addDelta(w, a, b, 0.75, fifo, sign, check, false);
                assertThat(m.finite).isTrue();
                assertThat(m.weight.shape()).containsExactly(w.shape());
                float[] got = m.weight.toFloatArray();
                float[] base = w.toFloatArray();
                for (int o = 0; o < OUT; o++) {
                    for (int i = 0; i < IN; i++) {
                        assertThat(at(got, fifo, o, i)).isCloseTo(at(base, fifo, o, i) + sign * d[o][i],
                                within(1e-5));
                    }
                }
            }
        }
        float[] delta = LoraMath.deltaWeight(a, b, 0.75, fifo).toFloatArray();
        for (int o = 0; o < OUT; o++) {
            for (int i = 0; i < IN; i++) {
                assertThat(at(delta, fifo, o, i)).isCloseTo(d[o][i], within(1e-5));
            }
        }
    }

    @Test
    void checkReportsNonFiniteWeightsOnlyWhenAsked() {
        Random rng = new Random(3);
        Tensor w = random(rng, OUT, IN);
        Tensor a = random(rng, R, IN);
        float[] bv = random(rng, OUT, R).toFloatArray();
        bv[4] = Float.NaN;
        Tensor b = Tensor.of(bv, OUT, R);
        assertThat(LoraMath.addDelta(w, a, b, 1.0, false, +1, true, false).finite).isFalse();
        assertThat(LoraMath.addDelta(w, a, b, 1.0, false, +1, false, false).finite).isTrue();
        bv[4] = Float.POSITIVE_INFINITY;
        Tensor wt = random(rng, IN, OUT); // fan-in-fan-out layout
        assertThat(LoraMath.addDelta(wt, a, Tensor.of(bv, OUT, R), 1.0, true, +1, true, false).finite).isFalse();
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void doraMergeThenUnmergeGivesTheWeightBack(boolean fifo) {
        Random rng = new Random(fifo ? 5 : 4);
        Tensor w = fifo ? random(rng, IN, OUT) : random(rng, OUT, IN);
        Tensor a = random(rng, R, IN);
        Tensor b = random(rng, OUT, R);
        double[][] d = delta(a, b, 0.5);
        float[] base = w.toFloatArray();
        float[] norm = LoraMath.weightNorm(w, a, b, 0.5, fifo).toFloatArray();
        float[] factor = new float[OUT];
        for (int o = 0; o < OUT; o++) {
            double sq = 0;
            for (int i = 0; i < IN; i++) {
                double x = at(base, fifo, o, i) + d[o][i];
                sq += x * x;
            }
            assertThat((double) norm[o]).isCloseTo(Math.sqrt(sq), within(1e-4));
            factor[o] = 0.5f + o;
        }
        Tensor f = Tensor.of(factor, OUT);
        LoraMath.Merged m = LoraMath.doraApply(w, a, b, 0.5, fifo, f, true, true, false);
        assertThat(m.finite).isTrue();
        float[] merged = m.weight.toFloatArray();
        for (int o = 0; o < OUT; o++) {
            for (int i = 0; i < IN; i++) {
                assertThat(at(merged, fifo, o, i)).isCloseTo(factor[o] * (at(base, fifo, o, i) + d[o][i]),
                        within(1e-4));
            }
        }
        float[] back = LoraMath.doraApply(m.weight, a, b, 0.5, fifo, f, false, false, false).weight.toFloatArray();
        for (int k = 0; k < back.length; k++) {
            assertThat(back[k]).isCloseTo(base[k], within(1e-4f));
        }
    }

    static Tensor randomOf(Random rng, DType dt, long... shape) {
        Tensor t = random(rng, shape);
        return dt == DType.F32 ? t : t.to(dt);
    }

    /**
     * Merging into the weight's own buffer gives bit for bit what merging into a new tensor gives, for every merge
     * graph, dtype and layout, on shapes large enough for ONNX Runtime to split the Gemm across threads.
     */
    @ParameterizedTest
    @ValueSource(strings = {"F32:false", "F32:true", "F16:false", "BF16:true"})
    void inPlaceMergesEqualNewTensorMergesBitForBit(String variant) {
        DType dt = DType.valueOf(variant.split(":")[0]);
        boolean fifo = Boolean.parseBoolean(variant.split(":")[1]);
        int out = 300;
        int in = 257;
        int r = 8;
        Random rng = new Random(variant.hashCode());
        Tensor w = fifo ? randomOf(rng, dt, in, out) : randomOf(rng, dt, out, in);
        Tensor a = random(rng, r, in);
        Tensor b = random(rng, out, r);
        float[] f = new float[out];
        for (int o = 0; o < out; o++) {
            f[o] = 0.5f + rng.nextFloat();
        }
        Tensor factor = Tensor.of(f, out);
        Tensor original = w.copy();

        Tensor want = LoraMath.addDelta(w, a, b, 0.75, fifo, +1, false, false).weight;
        assertThat(w.contentEquals(original)).isTrue();
        LoraMath.Merged m = LoraMath.addDelta(w, a, b, 0.75, fifo, +1, false, true);
        assertThat(m.weight).isSameAs(w);
        assertThat(w.version()).isEqualTo(1);
        assertThat(w.contentEquals(want)).isTrue();
        assertThat(w.contentEquals(original)).isFalse();

        want = LoraMath.addDelta(w, a, b, 0.75, fifo, -1, false, false).weight;
        assertThat(LoraMath.addDelta(w, a, b, 0.75, fifo, -1, false, true).weight).isSameAs(w);
        assertThat(w.contentEquals(want)).isTrue();

        for (boolean merge : new boolean[] {true, false}) {
            want = LoraMath.doraApply(w, a, b, 0.75, fifo, factor, merge, false, false).weight;
            assertThat(LoraMath.doraApply(w, a, b, 0.75, fifo, factor, merge, false, true).weight).isSameAs(w);
            assertThat(w.contentEquals(want)).isTrue();
        }
        assertThat(w.version()).isEqualTo(4);
    }

    @Test
    void readOnlyWeightsAreNeverWrittenInPlace() {
        Random rng = new Random(7);
        Tensor owned = random(rng, OUT, IN);
        java.nio.ByteBuffer ro = java.nio.ByteBuffer.allocateDirect(Math.toIntExact(owned.byteSize()));
        ro.put(owned.data()).flip();
        Tensor mapped = Tensor.wrap(DType.F32, owned.shape(), ro.asReadOnlyBuffer());
        assertThat(LoraMath.canMergeInPlace(owned, false)).isTrue();
        assertThat(LoraMath.canMergeInPlace(owned, true)).as("safe merges work on a copy").isFalse();
        assertThat(LoraMath.canMergeInPlace(mapped, false)).isFalse();
        Tensor a = random(rng, R, IN);
        Tensor b = random(rng, OUT, R);
        assertThatThrownBy(() -> LoraMath.addDelta(mapped, a, b, 1.0, false, +1, false, true))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cannot merge in place");
        assertThat(mapped.contentEquals(owned)).isTrue();
    }

    @Test
    void halfPrecisionWeightsAreMergedInFloat32() {
        Random rng = new Random(6);
        Tensor w32 = random(rng, OUT, IN);
        Tensor w = w32.to(DType.BF16);
        Tensor a = random(rng, R, IN);
        Tensor b = random(rng, OUT, R);
        Tensor got = LoraMath.addDelta(w, a, b, 1.0, false, +1, false, false).weight;
        assertThat(got.dtype()).isEqualTo(DType.BF16);
        float[] want = LoraMath.addDelta(w.to(DType.F32), a, b, 1.0, false, +1, false, false).weight.toFloatArray();
        float[] g = got.toFloatArray();
        for (int k = 0; k < want.length; k++) {
            // one rounding to bfloat16 (8 significant bits)
            assertThat(g[k]).isCloseTo(want[k], within(Math.abs(want[k]) / 256 + 1e-6f));
        }
    }

    @Test
    void safeMergeOfABrokenAdapterThrowsPeftsError() throws Exception {
        PeftModel pm = Peft.getPeftModel(LoraModelTest.llama(), LoraModelTest.nonTrivial().build());
        LoraLinear q = (LoraLinear) pm.getBaseModel().getSubmodule("model.layers.0.self_attn.q_proj");
        float[] bv = q.loraB("default").weight().data().toFloatArray();
        bv[0] = Float.NaN;
        q.loraB("default").weight().setData(Tensor.of(bv, q.loraB("default").weight().shape()));
        Tensor before = q.baseWeight().data();
        assertThatThrownBy(() -> pm.mergeAndUnload(true, List.of("default")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("NaNs detected in the merged weights. The adapter default seems to be broken");
        assertThat(q.baseWeight().data()).isSameAs(before);
        assertThat(pm.getBaseModel().getSubmodule("model.layers.0.self_attn.q_proj")).isNotInstanceOf(Linear.class);
    }
}
