package org.peft4j.models.llama;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.DecoderContext;
import org.peft4j.nn.Module;
import org.peft4j.nn.RMSNorm;
import org.peft4j.tensor.DType;

/** One pre-norm transformer block: self_attn, mlp, input_layernorm, post_attention_layernorm. */
public class LlamaDecoderLayer extends Module {
    LlamaDecoderLayer(LlamaConfig c, DType dtype) {
        registerModule("self_attn", new LlamaAttention(c, dtype));
        registerModule("mlp", new LlamaMLP(c, dtype));
        registerModule("input_layernorm", new RMSNorm(c.hiddenSize, c.rmsNormEps, dtype));
        registerModule("post_attention_layernorm", new RMSNorm(c.hiddenSize, c.rmsNormEps, dtype));
    }

    Value forward(Graph g, Value h, DecoderContext ctx, int idx) {
        Value attn = ((LlamaAttention) child("self_attn")).forward(g, layer("input_layernorm").forward(g, h), ctx, idx);
        h = g.add(h, attn);
        Value mlp = ((LlamaMLP) child("mlp")).forward(g, layer("post_attention_layernorm").forward(g, h));
        return g.add(h, mlp);
    }
}
