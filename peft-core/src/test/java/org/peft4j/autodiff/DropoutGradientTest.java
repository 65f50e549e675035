package org.peft4j.autodiff;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Node;
import org.peft4j.graph.Value;
import org.peft4j.nn.Dropout;
import org.peft4j.runtime.CompiledGraph;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/** Gradients through the counter-based dropout: a Mul by a mask that autodiff treats as a constant. */
class DropoutGradientTest {
    static final long SEED = 1234567;

    @Test
    void gradientsThroughTwoDropoutSitesMatchFiniteDifferences() {
        double[][] values = {GradientCheck.values(24, 11, -1, 1), GradientCheck.values(24, 12, 0.5, 1.5)};
        GradientCheck.check(OrtRuntime.shared(), "dropout", new long[][] {{4, 6}, {4, 6}}, values, in -> {
            Graph g = in.get(0).graph();
            // two sites with different masks, the second one after a non-linearity
            Value a = Dropout.apply(g, g.mul(in.get(0), in.get(1)), 0.5);
            return Dropout.apply(g, g.tanh(g.add(a, in.get(1))), 0.25);
        }, 1e-6, 1e-6, Map.of(Graph.DROPOUT_SEED, Tensor.of(new long[] {SEED})));
    }

    @Test
    void theMaskIsNotDifferentiatedAndDropsSomeGradients() {
        Graph g = new Graph();
        Value x = g.input("x", DType.F64, Dim.of(4), Dim.of(6));
        Value y = Dropout.apply(g, x, 0.5);
        Value loss = g.reduceSum(y, false, 0, 1);
        Autodiff.Result res = Autodiff.gradients(g, loss, List.of(x));
        // only the Mul by the mask gets a backward node: nothing on the integer hash path is differentiated
        assertThat(res.backwardNodes()).extracting(Node::opType).doesNotContain("Mod", "Div", "Less", "Where",
                "Range");
        g.output("grad", res.gradient(x));
        CompiledGraph cg = OrtRuntime.shared().compile(g, p -> false);
        double[] grad = cg.run(Map.of("x", Tensor.of(new double[24], 4, 6), Graph.DROPOUT_SEED,
                Tensor.of(new long[] {SEED}))).get("grad").toDoubleArray();
        // d sum(x * mask / (1 - p)) / dx = mask / (1 - p): 0 or exactly 2, both present
        int kept = 0;
        for (double d : grad) {
            assertThat(d).isIn(0.0, 2.0);
            kept += d == 2.0 ? 1 : 0;
        }
        assertThat(kept).isBetween(1, 23);
    }
}
