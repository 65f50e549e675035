package org.peft4j.models.gpt2;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.DecoderContext;
import org.peft4j.nn.Dropout;
import org.peft4j.nn.Embedding;
import org.peft4j.nn.LayerNorm;
import org.peft4j.nn.Module;
import org.peft4j.nn.ModuleList;
import org.peft4j.tensor.DType;

/** The GPT-2 transformer: wte, wpe, drop, h, ln_f. */
public class GPT2Model extends Module {
    GPT2Model(GPT2Config c, DType dtype) {
        registerModule("wte", new Embedding(c.vocabSize, c.nEmbd, dtype));
        registerModule("wpe", new Embedding(c.nPositions, c.nEmbd, dtype));
        registerModule("drop", new Dropout(c.embdPdrop));
        ModuleList h = registerModule("h", new ModuleList());
        for (int i = 0; i < c.nLayer; i++) {
            h.add(new GPT2Block(c, i, dtype));
        }
        registerModule("ln_f", new LayerNorm(c.nEmbd, c.layerNormEpsilon, true, dtype));
    }

    /** Adds position embeddings, then emits the blocks and the final norm. */
    Value forward(Graph g, Value h, DecoderContext ctx) {
        h = g.add(h, layer("wpe").forward(g, ctx.positions()));
        h = layer("drop").forward(g, h);
        ModuleList blocks = (ModuleList) child("h");
        for (int i = 0; i < blocks.size(); i++) {
            try (Graph.Scope s = g.scope("transformer.h." + i)) {
                h = ((GPT2Block) blocks.get(i)).forward(g, h, ctx);
            }
            // gradient checkpointing keeps each block's output and recomputes the block's activations
            h = g.checkpoint(h);
        }
        return layer("ln_f").forward(g, h);
    }
}
