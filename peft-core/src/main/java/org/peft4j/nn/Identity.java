package org.peft4j.nn;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;

/** Returns its input ({@code torch.nn.Identity}); emits no node. */
public class Identity extends Layer {
    @Override
    public Value forward(Graph g, Value x) {
        return x;
    }

    @Override
    public String toString() {
        return "Identity()";
    }
}
