package org.peft4j.models.llama;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.DecoderContext;
import org.peft4j.nn.Embedding;
import org.peft4j.nn.Module;
import org.peft4j.nn.ModuleList;
import org.peft4j.nn.RMSNorm;
import org.peft4j.tensor.DType;

/** The decoder stack: embed_tokens, layers, norm, rotary_emb. */
public class LlamaModel extends Module {
    private final LlamaConfig config;
    private final DType dtype;

    LlamaModel(LlamaConfig c, DType dtype) {
        this.config = c;
        this.dtype = dtype;
        registerModule("embed_tokens", new Embedding(c.vocabSize, c.hiddenSize, dtype, c.padTokenId));
        ModuleList layers = registerModule("layers", new ModuleList());
        for (int i = 0; i < c.numLayers; i++) {
            layers.add(new LlamaDecoderLayer(c, dtype));
        }
        registerModule("norm", new RMSNorm(c.hiddenSize, c.rmsNormEps, dtype));
        registerModule("rotary_emb", new LlamaRotaryEmbedding(c.rope, c.headDim));
    }

    /** Emits the layers and the final norm over the embeddings. */
    Value forward(Graph g, Value h, DecoderContext ctx) {
        Value[] cs = ((LlamaRotaryEmbedding) child("rotary_emb")).cosSin(g, ctx.positions(), dtype);
        ctx.setRotary(cs[0], cs[1]);
        ModuleList layers = (ModuleList) child("layers");
        for (int i = 0; i < layers.size(); i++) {
            try (Graph.Scope s = g.scope("model.layers." + i)) {
                h = ((LlamaDecoderLayer) layers.get(i)).forward(g, h, ctx, i);
            }
            // gradient checkpointing keeps each layer's output and recomputes the layer's activations
            h = g.checkpoint(h);
        }
        return layer("norm").forward(g, h);
    }

    LlamaConfig config() {
        return config;
    }
}
