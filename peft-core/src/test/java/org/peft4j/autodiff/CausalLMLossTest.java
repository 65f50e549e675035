package org.peft4j.autodiff;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.runtime.RuntimeOptions;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.train.CausalLMLoss;

/** The loss against the textbook formula, and its logits gradient against finite differences. */
class CausalLMLossTest {
    static final long[] LABELS = {-100, 2, 0, -100, -100, 1};   // batch 2, seq 3, vocab 3

    @Test
    void shiftedMaskedMeanCrossEntropy() {
        double[] logits = GradientCheck.values(18, 3, -2, 2);
        Graph g = new Graph();
        Value l = g.input("logits", DType.F64, Dim.of(2), Dim.of(3), Dim.of(3));
        Value y = g.input("labels", DType.I64, Dim.of(2), Dim.of(3));
        g.output("loss", CausalLMLoss.build(g, l, y));
        double want = 0;
        int counted = 0;
        for (int b = 0; b < 2; b++) {
            for (int t = 0; t < 2; t++) {                 // position t predicts label t + 1
                long label = LABELS[b * 3 + t + 1];
                if (label == -100) {
                    continue;
                }
                int off = (b * 3 + t) * 3;
                double z = 0;
                for (int v = 0; v < 3; v++) {
                    z += Math.exp(logits[off + v]);
                }
                want += Math.log(z) - logits[off + (int) label];
                counted++;
            }
        }
        want /= counted;
        assertThat(counted).isEqualTo(3);
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.defaults())) {
            double got = rt.compile(g, p -> false).run(Map.of("logits", Tensor.of(logits, 2, 3, 3), "labels",
                    Tensor.of(LABELS, 2, 3))).get("loss").getDouble(0);
            assertThat(got).isCloseTo(want, within(1e-12));
            GradientCheck.check(rt, "loss", new long[][] {{2, 3, 3}}, new double[][] {logits}, in -> {
                Graph gg = in.get(0).graph();
                Value labels = gg.constant(Tensor.of(LABELS, 2, 3));
                return CausalLMLoss.build(gg, in.get(0), labels);
            }, 1e-6);
        }
    }
}
