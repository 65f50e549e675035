package org.peft4j.models.gpt2;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.DecoderContext;
import org.peft4j.nn.LayerNorm;
import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;

/** A GPT-2 block: ln_1, attn, ln_2, mlp. */
public class GPT2Block extends Module {
    GPT2Block(GPT2Config c, int idx, DType dtype) {
        registerModule("ln_1", new LayerNorm(c.nEmbd, c.layerNormEpsilon, true, dtype));
        registerModule("attn", new GPT2Attention(c, idx, dtype));
        registerModule("ln_2", new LayerNorm(c.nEmbd, c.layerNormEpsilon, true, dtype));
        registerModule("mlp", new GPT2MLP(c, dtype));
    }

    Value forward(Graph g, Value h, DecoderContext ctx) {
        Value a = ((GPT2Attention) child("attn")).forward(g, layer("ln_1").forward(g, h), ctx);
        h = g.add(a, h);
        Value m = ((GPT2MLP) child("mlp")).forward(g, layer("ln_2").forward(g, h));
        return g.add(h, m);
    }
}
