package org.peft4j.models.phi3;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.DecoderContext;
import org.peft4j.nn.Dropout;
import org.peft4j.nn.Module;
import org.peft4j.nn.RMSNorm;
import org.peft4j.tensor.DType;

/**
 * One Phi-3 block: self_attn, mlp, input_layernorm, post_attention_layernorm, resid_attn_dropout,
 * resid_mlp_dropout.
 */
public class Phi3DecoderLayer extends Module {
    Phi3DecoderLayer(Phi3Config c, int idx, DType dtype) {
        registerModule("self_attn", new Phi3Attention(c, idx, dtype));
        registerModule("mlp", new Phi3MLP(c, dtype));
        registerModule("input_layernorm", new RMSNorm(c.hiddenSize, c.rmsNormEps, dtype));
        registerModule("post_attention_layernorm", new RMSNorm(c.hiddenSize, c.rmsNormEps, dtype));
        registerModule("resid_attn_dropout", new Dropout(c.residPdrop));
        registerModule("resid_mlp_dropout", new Dropout(c.residPdrop));
    }

    Value forward(Graph g, Value h, DecoderContext ctx) {
        Value a = ((Phi3Attention) child("self_attn")).forward(g, layer("input_layernorm").forward(g, h), ctx);
        h = g.add(h, layer("resid_attn_dropout").forward(g, a));
        Value m = ((Phi3MLP) child("mlp")).forward(g, layer("post_attention_layernorm").forward(g, h));
        return g.add(h, layer("resid_mlp_dropout").forward(g, m));
    }
}
