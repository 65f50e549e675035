package org.peft4j.models.gpt2;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.nn.Activation;
import org.peft4j.nn.Conv1D;
import org.peft4j.nn.Dropout;
import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;

/** GPT-2 feed-forward: c_fc, act, c_proj, dropout. */
public class GPT2MLP extends Module {
    GPT2MLP(GPT2Config c, DType dtype) {
        registerModule("c_fc", new Conv1D(c.nInner, c.nEmbd, dtype));
        registerModule("c_proj", new Conv1D(c.nEmbd, c.nInner, dtype));
        registerModule("act", new Activation(c.activation));
        registerModule("dropout", new Dropout(c.residPdrop));
    }

    Value forward(Graph g, Value x) {
        Value h = layer("act").forward(g, layer("c_fc").forward(g, x));
        return layer("dropout").forward(g, layer("c_proj").forward(g, h));
    }
}
