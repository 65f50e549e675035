package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.peft4j.lora.Battery.diff;
import static org.peft4j.lora.Battery.logits;

import java.util.List;
import java.util.Map;
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.RealMatrix;
import org.apache.commons.math3.linear.SingularValueDecomposition;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.tensor.Tensor;

/**
 * PEFT's common battery, {@code test_weighted_combination_of_adapters} for LoRA, with the deltas checked against
 * independent arithmetic instead of only the ranks: adapters {@code adapter1} (r=8), {@code adapter_2} (r=8) and
 * {@code adapter_3} (r=20), weights {@code [0.5, 1.5, 1.5]} and {@code [-0.5, -0.8, -1.2]}.
 *
 * <p>Deliberate difference: PEFT's svd path at some versions applies each adapter's scaling twice (fixed by PEFT
 * PR #3111); peft4j implements the exact semantics, {@code svd(Σ w_i s_i B_i A_i)}, which is what is checked here.
 */
class LoraWeightedAdapterBatteryTest {

    static double[][] matrix(Tensor t) {
        long[] s = t.shape();
        double[] d = t.toDoubleArray();
        double[][] m = new double[(int) s[0]][(int) s[1]];
        for (int i = 0; i < s[0]; i++) {
            System.arraycopy(d, (int) (i * s[1]), m[i], 0, (int) s[1]);
        }
        return m;
    }

    static RealMatrix delta(LoraLinear l, String adapter) {
        return new Array2DRowRealMatrix(matrix(l.getDeltaWeight(adapter)), false);
    }

    static double maxAbsDiff(RealMatrix a, RealMatrix b) {
        return a.subtract(b).getData().length == 0 ? 0 : java.util.Arrays.stream(a.subtract(b).getData())
                .flatMapToDouble(java.util.Arrays::stream).map(Math::abs).max().orElse(0);
    }

    /** The best rank-k approximation (Eckart-Young) of {@code m}, from Commons Math's SVD. */
    static RealMatrix bestRankK(RealMatrix m, int k) {
        SingularValueDecomposition svd = new SingularValueDecomposition(m);
        double[] s = svd.getSingularValues();
        RealMatrix out = new Array2DRowRealMatrix(m.getRowDimension(), m.getColumnDimension());
        for (int c = 0; c < Math.min(k, s.length); c++) {
            out = out.add(svd.getU().getColumnMatrix(c).multiply(svd.getV().getColumnMatrix(c).transpose())
                    .scalarMultiply(s[c]));
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-mha", "gpt2"})
    void weightedCombinations(String name) throws Exception {
        PreTrainedModel m = Battery.model(name);
        Tensor base = logits(m);
        PeftModel pm = Peft.getPeftModel(m, Battery.config().build(), "adapter1");
        pm.addAdapter("adapter_2", Battery.config().build());
        pm.addAdapter("adapter_3", Battery.config().r(20).build());
        LoraModel lm = pm.tuner(LoraModel.class);
        Map<String, LoraLayer> layers = Battery.loraLayers(pm);

        // cat with unit weights: the sum of both adapters, as running both at once
        pm.setAdapters(List.of("adapter_2", "adapter_3"));
        Tensor bothActive = logits(pm);
        lm.addWeightedAdapter(List.of("adapter_2", "adapter_3"), List.of(1.0, 1.0), "cat_unit", "cat", null);
        pm.setAdapter("cat_unit");
        assertThat(diff(logits(pm), bothActive)).isLessThan(1e-4);

        for (double[] w : new double[][] {{0.5, 1.5, 1.5}, {-0.5, -0.8, -1.2}}) {
            String tag = w[0] > 0 ? "pos" : "neg";
            // single-adapter reweighting (any combination type becomes linear): delta == w * delta0
            lm.addWeightedAdapter(List.of("adapter1"), List.of(w[0]), "single_" + tag, "svd", null);
            // svd of [adapter_2, adapter_3]: rank max(8, 20) = 20; cat: 8 + 20 = 28; linear of two r=8: 8
            lm.addWeightedAdapter(List.of("adapter_2", "adapter_3"), List.of(w[1], w[2]), "svd_" + tag, "svd", null);
            lm.addWeightedAdapter(List.of("adapter_2", "adapter_3"), List.of(w[1], w[2]), "svdfull_" + tag, "svd", 28);
            lm.addWeightedAdapter(List.of("adapter_2", "adapter_3"), List.of(w[1], w[2]), "cat_" + tag, "cat", null);
            lm.addWeightedAdapter(List.of("adapter1", "adapter_2"), List.of(w[0], w[1]), "linear_" + tag, "linear",
                    null);
            assertThat(((LoraConfig) pm.peftConfig().get("single_" + tag)).r()).isEqualTo(8);
            assertThat(((LoraConfig) pm.peftConfig().get("svd_" + tag)).r()).isEqualTo(20);
            assertThat(((LoraConfig) pm.peftConfig().get("cat_" + tag)).r()).isEqualTo(28);
            assertThat(((LoraConfig) pm.peftConfig().get("linear_" + tag)).r()).isEqualTo(8);
            assertThatThrownBy(() -> lm.addWeightedAdapter(List.of("adapter_2", "adapter_3"), List.of(w[1], w[2]),
                    "bad_" + tag, "linear", null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("All adapters must have the same r value when using combination_type linear, ties, "
                            + "dare_ties or dare_linear.");
            assertThat(pm.peftConfig()).doesNotContainKey("bad_" + tag);

            for (Map.Entry<String, LoraLayer> e : layers.entrySet()) {
                LoraLinear l = (LoraLinear) e.getValue();
                String at = e.getKey() + " " + tag;
                for (String n : List.of("single_", "svd_", "cat_", "linear_")) {
                    assertThat(l.scaling().get(n + tag)).as(at).isEqualTo(1.0);
                }
                assertThat(l.r().get("svd_" + tag)).isEqualTo(20);
                assertThat(l.loraA("cat_" + tag).weight().shape()).containsExactly(28, l.inFeatures());
                assertThat(l.loraB("cat_" + tag).weight().shape()).containsExactly(l.outFeatures(), 28);

                RealMatrix d1 = delta(l, "adapter1");
                RealMatrix d2 = delta(l, "adapter_2");
                RealMatrix d3 = delta(l, "adapter_3");
                assertThat(maxAbsDiff(delta(l, "single_" + tag), d1.scalarMultiply(w[0]))).as(at).isLessThan(1e-4);

                RealMatrix sum = d2.scalarMultiply(w[1]).add(d3.scalarMultiply(w[2]));
                assertThat(maxAbsDiff(delta(l, "cat_" + tag), sum)).as(at).isLessThan(1e-5);

                // svd: the best rank-20 approximation of the weighted sum (rank 28), and the sum itself at rank 28
                RealMatrix svd = delta(l, "svd_" + tag);
                RealMatrix best = bestRankK(sum, 20);
                assertThat(maxAbsDiff(svd, best)).as(at).isLessThan(1e-5);
                assertThat(maxAbsDiff(svd, sum)).as(at + ": truncation must matter").isGreaterThan(1e-4);
                double[] sv = new SingularValueDecomposition(sum).getSingularValues();
                double tail = 0;
                for (int k = 20; k < sv.length; k++) {
                    tail += sv[k] * sv[k];
                }
                assertThat(sum.subtract(svd).getFrobeniusNorm()).as(at)
                        .isCloseTo(Math.sqrt(tail), org.assertj.core.api.Assertions.within(1e-4));
                double[] svdSv = new SingularValueDecomposition(svd).getSingularValues();
                assertThat(svdSv[19]).as(at).isGreaterThan(1e-3);
                for (int k = 20; k < svdSv.length; k++) {
                    assertThat(svdSv[k]).as(at + ": rank 20, up to float32 rounding").isLessThan(1e-5 * svdSv[0]);
                }
                assertThat(maxAbsDiff(delta(l, "svdfull_" + tag), sum)).as(at).isLessThan(1e-5);

                // linear: A = Σ sign(w s) sqrt|w s| A_i, B = Σ sqrt|w s| B_i, cross terms included (as PEFT)
                RealMatrix a = new Array2DRowRealMatrix(8, (int) l.inFeatures());
                RealMatrix b = new Array2DRowRealMatrix((int) l.outFeatures(), 8);
                String[] src = {"adapter1", "adapter_2"};
                for (int i = 0; i < 2; i++) {
                    double ws = w[i] * l.scaling().get(src[i]);
                    a = a.add(new Array2DRowRealMatrix(matrix(l.loraA(src[i]).weight().data()))
                            .scalarMultiply(Math.signum(ws) * Math.sqrt(Math.abs(ws))));
                    b = b.add(new Array2DRowRealMatrix(matrix(l.loraB(src[i]).weight().data()))
                            .scalarMultiply(Math.sqrt(Math.abs(ws))));
                }
                RealMatrix linear = b.multiply(a);
                if (l.fanInFanOut()) {
                    linear = linear.transpose();
                }
                assertThat(maxAbsDiff(delta(l, "linear_" + tag), linear)).as(at).isLessThan(1e-5);
            }
        }

        // an existing name is left alone (PEFT returns silently)
        lm.addWeightedAdapter(List.of("adapter_2", "adapter_3"), List.of(1.0, 1.0), "svd_pos", "cat", null);
        assertThat(((LoraConfig) pm.peftConfig().get("svd_pos")).r()).isEqualTo(20);

        // every new adapter can be activated and run
        for (String n : List.of("single_pos", "svd_pos", "cat_pos", "linear_pos", "single_neg", "svd_neg",
                "cat_neg", "linear_neg")) {
            pm.setAdapter(n);
            Tensor out = logits(pm);
            assertThat(Battery.finite(out)).as(n).isTrue();
            assertThat(diff(out, base)).as(n).isGreaterThan(1e-3);
        }
    }
}
