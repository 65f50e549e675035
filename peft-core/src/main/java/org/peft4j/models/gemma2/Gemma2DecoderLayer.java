package org.peft4j.models.gemma2;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.DecoderContext;
import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;

/**
 * One Gemma 2 block: {@code h + post_attention_layernorm(self_attn(input_layernorm(h)))}, then
 * {@code h + post_feedforward_layernorm(mlp(pre_feedforward_layernorm(h)))}.
 */
public class Gemma2DecoderLayer extends Module {
    Gemma2DecoderLayer(Gemma2Config c, DType dtype) {
        registerModule("self_attn", new Gemma2Attention(c, dtype));
        registerModule("mlp", new Gemma2MLP(c, dtype));
        registerModule("input_layernorm", new Gemma2RMSNorm(c.hiddenSize, c.rmsNormEps, dtype));
        registerModule("post_attention_layernorm", new Gemma2RMSNorm(c.hiddenSize, c.rmsNormEps, dtype));
        registerModule("pre_feedforward_layernorm", new Gemma2RMSNorm(c.hiddenSize, c.rmsNormEps, dtype));
        registerModule("post_feedforward_layernorm", new Gemma2RMSNorm(c.hiddenSize, c.rmsNormEps, dtype));
    }

    Value forward(Graph g, Value h, DecoderContext ctx, int idx) {
        Value attn = ((Gemma2Attention) child("self_attn")).forward(g, layer("input_layernorm").forward(g, h), ctx,
                idx);
        h = g.add(h, layer("post_attention_layernorm").forward(g, attn));
        Value mlp = ((Gemma2MLP) child("mlp")).forward(g, layer("pre_feedforward_layernorm").forward(g, h));
        return g.add(h, layer("post_feedforward_layernorm").forward(g, mlp));
    }
}
