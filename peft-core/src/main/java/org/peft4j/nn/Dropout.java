package org.peft4j.nn;

import java.util.List;
import java.util.Map;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.tensor.DType;

/**
 * Dropout with probability {@code p}: the identity in inference graphs; in training graphs an ONNX {@code Dropout}
 * node with {@code training_mode} set.
 */
public class Dropout extends Layer {
    private final double p;

    public Dropout(double p) {
        if (p < 0 || p >= 1) {
            throw new IllegalArgumentException("dropout probability has to be in [0, 1), but got " + p);
        }
        this.p = p;
    }

    public double p() {
        return p;
    }

    @Override
    public Value forward(Graph g, Value x) {
        if (!g.isTraining() || p == 0) {
            return x;
        }
        Value ratio = g.scalar(p, x.dtype());
        Value training = g.constant(org.peft4j.tensor.Tensor.wrap(DType.BOOL, new long[0],
                java.nio.ByteBuffer.allocateDirect(1).put(0, (byte) 1)));
        return g.node("Dropout", "", List.of(x, ratio, training), List.of(x.dtype(), DType.BOOL),
                List.of(x.shape(), x.shape()), Map.of()).output(0);
    }

    @Override
    public String toString() {
        return "Dropout(p=" + p + ")";
    }
}
