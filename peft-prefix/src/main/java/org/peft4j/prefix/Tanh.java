package org.peft4j.prefix;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.nn.Layer;

/** {@code torch.nn.Tanh}: no parameters. */
final class Tanh extends Layer {
    @Override
    public Value forward(Graph g, Value x) {
        return g.tanh(x);
    }

    @Override
    public String typeName() {
        return "Tanh";
    }
}
