package org.peft4j.autodiff;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Node;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Shape;
import org.peft4j.graph.Value;
import org.peft4j.nn.Linear;
import org.peft4j.tensor.DType;

/** Only values on a path from the loss to a trainable value get backward nodes: no gradient for frozen weights. */
class PruningTest {

    /** Two stacked linear layers; returns the backward nodes when only {@code trainable} requires a gradient. */
    private static List<Node> backward(boolean firstTrainable, boolean secondTrainable, Graph g, Linear a, Linear b) {
        g.nameParameters(Map.of("a.weight", a.weight(), "b.weight", b.weight()));
        Value x = g.input("x", DType.F32, Dim.of("n"), Dim.of(4));
        Value y = b.forward(g, a.forward(g, x));
        Value loss = g.reduceSum(g.mul(y, y), false, 0, 1);
        List<Value> wrt = new java.util.ArrayList<>();
        if (firstTrainable) {
            wrt.add(g.param(a.weight()));
        }
        if (secondTrainable) {
            wrt.add(g.param(b.weight()));
        }
        return Autodiff.gradients(g, loss, wrt).backwardNodes();
    }

    private static long gemmsProducing(List<Node> nodes, Shape shape) {
        return nodes.stream().filter(n -> n.opType().equals("Gemm") && n.output(0).shape().equals(shape)).count();
    }

    @Test
    void frozenWeightsGetNoGradientNodes() {
        Linear a = new Linear(4, 3, false, DType.F32);
        Linear b = new Linear(3, 2, false, DType.F32);
        // only the second layer trains: no backward node reaches into the first layer at all
        List<Node> onlyB = backward(false, true, new Graph(), a, b);
        assertThat(gemmsProducing(onlyB, Shape.of(2, 3))).isEqualTo(1);                 // dW_b
        assertThat(gemmsProducing(onlyB, Shape.of(3, 4))).isZero();                     // no dW_a
        assertThat(onlyB.stream().filter(n -> n.opType().equals("Gemm"))).hasSize(1);   // not even dX of layer b
        // only the first layer trains: the gradient flows through b (dX = dY W_b) but never computes dW_b
        List<Node> onlyA = backward(true, false, new Graph(), a, b);
        assertThat(gemmsProducing(onlyA, Shape.of(3, 4))).isEqualTo(1);                 // dW_a
        assertThat(gemmsProducing(onlyA, Shape.of(2, 3))).isZero();                     // no dW_b
    }

    @Test
    void lossMustBeAFloatScalarAndUnknownOpsAreNamed() {
        Graph g = new Graph();
        Value x = g.input("x", DType.F32, Dim.of(3));
        assertThatThrownBy(() -> Autodiff.gradients(g, x, List.of(x))).hasMessageContaining("scalar");
        Value odd = g.node("Floor", "", List.of(x), List.of(DType.F32), List.of(x.shape()), Map.of()).output(0);
        Value loss = g.reduceSum(odd, false, 0);
        assertThatThrownBy(() -> Autodiff.gradients(g, loss, List.of(x))).hasMessageContaining("no gradient rule for op Floor");
        Parameter unused = new Parameter(DType.F32, 3);
        Graph g2 = new Graph();
        Value y = g2.input("y", DType.F32, Dim.of(3));
        Value l2 = g2.reduceSum(y, false, 0);
        Value p = g2.param(unused);
        assertThat(Autodiff.gradients(g2, l2, List.of(p)).gradient(p).producer().opType()).isEqualTo("ConstantOfShape");
    }
}
