package org.peft4j.models.gemma2;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.DecoderContext;
import org.peft4j.nn.Module;
import org.peft4j.nn.ModuleList;
import org.peft4j.tensor.DType;

/** The Gemma 2 decoder stack: embed_tokens (scaled), layers, norm, rotary_emb. */
public class Gemma2Model extends Module {
    private final DType dtype;

    Gemma2Model(Gemma2Config c, DType dtype) {
        this.dtype = dtype;
        registerModule("embed_tokens", new Gemma2TextScaledWordEmbedding(c.vocabSize, c.hiddenSize, dtype, c.padTokenId));
        ModuleList layers = registerModule("layers", new ModuleList());
        for (int i = 0; i < c.numLayers; i++) {
            layers.add(new Gemma2DecoderLayer(c, dtype));
        }
        registerModule("norm", new Gemma2RMSNorm(c.hiddenSize, c.rmsNormEps, dtype));
        registerModule("rotary_emb", new Gemma2RotaryEmbedding(c));
    }

    Value forward(Graph g, Value h, DecoderContext ctx) {
        Value[] cs = ((Gemma2RotaryEmbedding) child("rotary_emb")).cosSin(g, ctx.positions(), dtype);
        ctx.setRotary(cs[0], cs[1]);
        ModuleList layers = (ModuleList) child("layers");
        for (int i = 0; i < layers.size(); i++) {
            try (Graph.Scope s = g.scope("model.layers." + i)) {
                h = ((Gemma2DecoderLayer) layers.get(i)).forward(g, h, ctx, i);
            }
            h = g.checkpoint(h);
        }
        return layer("norm").forward(g, h);
    }
}
