package org.peft4j.models.chatglm;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.DecoderContext;
import org.peft4j.nn.Module;
import org.peft4j.nn.ModuleList;
import org.peft4j.tensor.DType;

/** ChatGLM's {@code encoder} ({@code GLMTransformer}): layers, then final_layernorm when {@code post_layer_norm}. */
public class GLMTransformer extends Module {
    GLMTransformer(ChatGLMConfig c, DType dtype) {
        ModuleList layers = registerModule("layers", new ModuleList());
        for (int i = 0; i < c.numLayers; i++) {
            layers.add(new GLMBlock(c, dtype));
        }
        if (c.postLayerNorm) {
            registerModule("final_layernorm", GLMBlock.norm(c, dtype));
        }
    }

    Value forward(Graph g, Value h, DecoderContext ctx, ChatGLMRotaryEmbedding rope, Value allowed) {
        ModuleList layers = (ModuleList) child("layers");
        for (int i = 0; i < layers.size(); i++) {
            try (Graph.Scope s = g.scope("transformer.encoder.layers." + i)) {
                h = ((GLMBlock) layers.get(i)).forward(g, h, ctx, i, rope, allowed);
            }
            // gradient checkpointing keeps each layer's output and recomputes the layer's activations
            h = g.checkpoint(h);
        }
        return child("final_layernorm") != null ? layer("final_layernorm").forward(g, h) : h;
    }
}
