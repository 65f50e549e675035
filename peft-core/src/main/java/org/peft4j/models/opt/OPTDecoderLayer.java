package org.peft4j.models.opt;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.DecoderContext;
import org.peft4j.nn.Activation;
import org.peft4j.nn.Dropout;
import org.peft4j.nn.LayerNorm;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;

/**
 * One OPT block: self_attn, self_attn_layer_norm, fc1, fc2, final_layer_norm; the layer norms come before attention
 * and fc1 with {@code do_layer_norm_before} (125m, 1.3b, ...), after the residual sums otherwise (350m).
 */
public class OPTDecoderLayer extends Module {
    private final OPTConfig c;
    private final Activation act;
    private final Dropout dropout;

    OPTDecoderLayer(OPTConfig c, int idx, DType dtype) {
        this.c = c;
        this.act = new Activation(c.activation);
        this.dropout = new Dropout(c.dropout);
        registerModule("self_attn", new OPTAttention(c, idx, dtype));
        registerModule("self_attn_layer_norm", new LayerNorm(c.hiddenSize, 1e-5, true, dtype));
        registerModule("fc1", new Linear(c.hiddenSize, c.ffnDim, c.enableBias, dtype));
        registerModule("fc2", new Linear(c.ffnDim, c.hiddenSize, c.enableBias, dtype));
        registerModule("final_layer_norm", new LayerNorm(c.hiddenSize, 1e-5, true, dtype));
    }

    Value forward(Graph g, Value h, DecoderContext ctx) {
        Value residual = h;
        if (c.doLayerNormBefore) {
            h = layer("self_attn_layer_norm").forward(g, h);
        }
        h = ((OPTAttention) child("self_attn")).forward(g, h, ctx);
        h = g.add(residual, dropout.forward(g, h));
        if (!c.doLayerNormBefore) {
            h = layer("self_attn_layer_norm").forward(g, h);
        }
        residual = h;
        if (c.doLayerNormBefore) {
            h = layer("final_layer_norm").forward(g, h);
        }
        h = layer("fc2").forward(g, act.forward(g, layer("fc1").forward(g, h)));
        h = g.add(residual, dropout.forward(g, h));
        if (!c.doLayerNormBefore) {
            h = layer("final_layer_norm").forward(g, h);
        }
        return h;
    }
}
