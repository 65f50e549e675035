package org.peft4j.models.gpt2;

import java.util.ArrayList;
import java.util.List;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.AttentionOps;
import org.peft4j.models.CausalLMInput;
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

    /** Per-forward values shared by all blocks. */
    static final class Context {
        Value allowed;
        List<Value> pastKeys;
        List<Value> pastValues;
        List<Value> presentKeys;
        List<Value> presentValues;
    }

    Value forward(Graph g, CausalLMInput in, Context ctx) {
        Value h = layer("wte").forward(g, in.inputIds());
        if (in.prefixEmbeds() != null) {
            h = g.concat(1, in.prefixEmbeds(), h);
        }
        Value seqLen = g.dimOf(h, 1);
        Value pastLen = in.pastKeys() != null ? g.dimOf(in.pastKeys().get(0), 2) : g.intScalar(0);
        Value positions = in.positionIds() != null ? in.positionIds()
                : AttentionOps.defaultPositions(g, seqLen, pastLen);
        h = g.add(h, layer("wpe").forward(g, positions));
        h = layer("drop").forward(g, h);
        ctx.allowed = AttentionOps.allowedMask(g, seqLen, pastLen, in.attentionMask());
        ctx.pastKeys = in.pastKeys();
        ctx.pastValues = in.pastValues();
        if (in.useCache()) {
            ctx.presentKeys = new ArrayList<>();
            ctx.presentValues = new ArrayList<>();
        }
        ModuleList blocks = (ModuleList) child("h");
        for (int i = 0; i < blocks.size(); i++) {
            try (Graph.Scope s = g.scope("transformer.h." + i)) {
                h = ((GPT2Block) blocks.get(i)).forward(g, h, ctx);
            }
        }
        return layer("ln_f").forward(g, h);
    }
}
