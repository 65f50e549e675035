package org.peft4j.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * The {@link LinearLike} contract of {@link Linear} and GPT-2's {@link Conv1D}: the dense weight is W [out, in] in
 * float32 whatever the storage, hand-written here element by element.
 */
class LinearLikeTest {
    /** W[o][i] = o + i / 8 (exact in bfloat16 for these sizes). */
    static double w(int o, int i) {
        return o + i / 8.0;
    }

    @Test
    void conv1dDenseWeightIsItsStoredWeightTransposed() {
        Conv1D c = new Conv1D(3, 2, DType.F32);
        float[] stored = new float[6];
        for (int i = 0; i < 2; i++) {
            for (int o = 0; o < 3; o++) {
                stored[i * 3 + o] = (float) w(o, i);
            }
        }
        c.weight().setData(Tensor.of(stored, 2, 3));
        assertThat(c.fanInFanOut()).isTrue();
        assertThat(c.plainWeight()).isSameAs(c.weight());
        Tensor d = c.denseWeight();
        assertThat(d.shape()).containsExactly(3, 2);
        assertThat(d.toFloatArray()).containsExactly(0f, 0.125f, 1f, 1.125f, 2f, 2.125f);

        Graph g = new Graph();
        Value v = c.denseWeight(g);
        g.output("w", v);
        assertThat(OrtRuntime.shared().compile(g, p -> false).run(java.util.Map.of()).get("w").toFloatArray())
                .containsExactly(0f, 0.125f, 1f, 1.125f, 2f, 2.125f);

        c.setDenseWeight(Tensor.of(new double[] {1, 2, 3, 4, 5, 6}, 3, 2));
        assertThat(c.weight().data().toFloatArray()).containsExactly(1f, 3f, 5f, 2f, 4f, 6f);
        assertThatThrownBy(() -> c.setDenseWeight(Tensor.of(new float[6], 2, 3)))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void linearDenseWeightIsFloat32AndSetDenseWeightRoundsToTheStorageDtype() {
        Linear l = new Linear(2, 3, true, DType.BF16);
        assertThat(l.hasWeightData()).isFalse();
        float[] d = new float[6];
        for (int o = 0; o < 3; o++) {
            for (int i = 0; i < 2; i++) {
                d[o * 2 + i] = (float) w(o, i);
            }
        }
        l.weight().setData(Tensor.of(d, 3, 2).to(DType.BF16));
        assertThat(l.hasWeightData()).isTrue();
        assertThat(l.fanInFanOut()).isFalse();
        assertThat(l.bias()).isSameAs(l.parameter("bias"));
        Tensor dense = l.denseWeight();
        assertThat(dense.dtype()).isEqualTo(DType.F32);
        assertThat(dense.toFloatArray()).containsExactly(d);
        // 1 + 2^-9 is not a bfloat16 (8 significant bits): it rounds to 1 (ties to even)
        l.setDenseWeight(Tensor.of(new float[] {1 + 1f / 512, 0, 0, 0, 0, 3}, 3, 2));
        assertThat(l.weight().data().dtype()).isEqualTo(DType.BF16);
        assertThat(l.weight().data().toFloatArray()).containsExactly(1f, 0f, 0f, 0f, 0f, 3f);
    }
}
