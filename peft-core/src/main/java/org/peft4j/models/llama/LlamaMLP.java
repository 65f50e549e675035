package org.peft4j.models.llama;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.nn.Activation;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;

/** SwiGLU feed-forward: {@code down_proj(act(gate_proj(x)) * up_proj(x))}. */
public class LlamaMLP extends Module {
    LlamaMLP(LlamaConfig c, DType dtype) {
        registerModule("gate_proj", new Linear(c.hiddenSize, c.intermediateSize, c.mlpBias, dtype));
        registerModule("up_proj", new Linear(c.hiddenSize, c.intermediateSize, c.mlpBias, dtype));
        registerModule("down_proj", new Linear(c.intermediateSize, c.hiddenSize, c.mlpBias, dtype));
        registerModule("act_fn", new Activation(c.hiddenAct));
    }

    Value forward(Graph g, Value x) {
        Value gate = layer("act_fn").forward(g, layer("gate_proj").forward(g, x));
        return layer("down_proj").forward(g, g.mul(gate, layer("up_proj").forward(g, x)));
    }
}
