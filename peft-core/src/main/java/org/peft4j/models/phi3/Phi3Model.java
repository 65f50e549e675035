package org.peft4j.models.phi3;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.DecoderContext;
import org.peft4j.nn.Embedding;
import org.peft4j.nn.Module;
import org.peft4j.nn.ModuleList;
import org.peft4j.nn.RMSNorm;
import org.peft4j.tensor.DType;

/** The Phi-3 decoder: embed_tokens, layers, norm, rotary_emb. */
public class Phi3Model extends Module {
    private final DType dtype;

    Phi3Model(Phi3Config c, DType dtype) {
        this.dtype = dtype;
        registerModule("embed_tokens", new Embedding(c.vocabSize, c.hiddenSize, dtype, c.padTokenId));
        ModuleList layers = registerModule("layers", new ModuleList());
        for (int i = 0; i < c.numLayers; i++) {
            layers.add(new Phi3DecoderLayer(c, i, dtype));
        }
        registerModule("norm", new RMSNorm(c.hiddenSize, c.rmsNormEps, dtype));
        registerModule("rotary_emb", new Phi3RotaryEmbedding(c));
    }

    Value forward(Graph g, Value h, DecoderContext ctx) {
        Value[] cs = ((Phi3RotaryEmbedding) child("rotary_emb")).cosSin(g, ctx.positions(), dtype);
        ctx.setRotary(cs[0], cs[1]);
        ModuleList layers = (ModuleList) child("layers");
        for (int i = 0; i < layers.size(); i++) {
            try (Graph.Scope s = g.scope("model.layers." + i)) {
                h = ((Phi3DecoderLayer) layers.get(i)).forward(g, h, ctx);
            }
            // gradient checkpointing keeps each layer's output and recomputes the layer's activations
            h = g.checkpoint(h);
        }
        return layer("norm").forward(g, h);
    }
}
