package org.peft4j.models.gemma2;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.nn.Activation;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;

/** GeGLU feed-forward: {@code down_proj(gelu_tanh(gate_proj(x)) * up_proj(x))}, no biases. */
public class Gemma2MLP extends Module {
    Gemma2MLP(Gemma2Config c, DType dtype) {
        registerModule("gate_proj", new Linear(c.hiddenSize, c.intermediateSize, false, dtype));
        registerModule("up_proj", new Linear(c.hiddenSize, c.intermediateSize, false, dtype));
        registerModule("down_proj", new Linear(c.intermediateSize, c.hiddenSize, false, dtype));
        registerModule("act_fn", new Activation(c.hiddenActivation));
    }

    Value forward(Graph g, Value x) {
        Value gate = layer("act_fn").forward(g, layer("gate_proj").forward(g, x));
        return layer("down_proj").forward(g, g.mul(gate, layer("up_proj").forward(g, x)));
    }
}
