package org.peft4j.models.phi3;

import java.util.List;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.nn.Activation;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;

/** Phi-3 feed-forward: {@code gate, up = gate_up_proj(x).chunk(2)}; {@code down_proj(up * act(gate))}. */
public class Phi3MLP extends Module {
    private final long inter;

    Phi3MLP(Phi3Config c, DType dtype) {
        this.inter = c.intermediateSize;
        registerModule("gate_up_proj", new Linear(c.hiddenSize, 2 * c.intermediateSize, false, dtype));
        registerModule("down_proj", new Linear(c.intermediateSize, c.hiddenSize, false, dtype));
        registerModule("activation_fn", new Activation(c.hiddenAct));
    }

    Value forward(Graph g, Value x) {
        List<Value> gu = g.split(layer("gate_up_proj").forward(g, x), -1, inter, inter);
        Value h = g.mul(gu.get(1), layer("activation_fn").forward(g, gu.get(0)));
        return layer("down_proj").forward(g, h);
    }
}
