package org.peft4j.models.llama;

import java.util.ArrayList;
import java.util.List;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.AttentionOps;
import org.peft4j.models.CausalLMInput;
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
        registerModule("embed_tokens", new Embedding(c.vocabSize, c.hiddenSize, dtype));
        ModuleList layers = registerModule("layers", new ModuleList());
        for (int i = 0; i < c.numLayers; i++) {
            layers.add(new LlamaDecoderLayer(c, dtype));
        }
        registerModule("norm", new RMSNorm(c.hiddenSize, c.rmsNormEps, dtype));
        registerModule("rotary_emb", new LlamaRotaryEmbedding(c.rope, c.headDim));
    }

    /** Per-forward values shared by all layers. */
    static final class Context {
        Value cos;
        Value sin;
        Value allowed;
        List<Value> pastKeys;
        List<Value> pastValues;
        List<Value> presentKeys;
        List<Value> presentValues;
    }

    /** Emits the stack; returns the final hidden states and fills {@code ctx}'s present lists. */
    Value forward(Graph g, CausalLMInput in, Context ctx) {
        Value ids = in.inputIds();
        Value h = layer("embed_tokens").forward(g, ids);
        if (in.prefixEmbeds() != null) {
            h = g.concat(1, in.prefixEmbeds(), h);
        }
        Value seqLen = g.dimOf(h, 1);
        Value pastLen = in.pastKeys() != null ? g.dimOf(in.pastKeys().get(0), 2) : g.intScalar(0);
        Value positions = in.positionIds() != null ? in.positionIds()
                : AttentionOps.defaultPositions(g, seqLen, pastLen);
        Value[] cs = ((LlamaRotaryEmbedding) child("rotary_emb")).cosSin(g, positions, dtype);
        ctx.cos = cs[0];
        ctx.sin = cs[1];
        ctx.allowed = AttentionOps.allowedMask(g, seqLen, pastLen, in.attentionMask());
        ctx.pastKeys = in.pastKeys();
        ctx.pastValues = in.pastValues();
        if (in.useCache()) {
            ctx.presentKeys = new ArrayList<>();
            ctx.presentValues = new ArrayList<>();
        }
        ModuleList layers = (ModuleList) child("layers");
        for (int i = 0; i < layers.size(); i++) {
            try (Graph.Scope s = g.scope("model.layers." + i)) {
                h = ((LlamaDecoderLayer) layers.get(i)).forward(g, h, ctx, i);
            }
        }
        return layer("norm").forward(g, h);
    }

    LlamaConfig config() {
        return config;
    }
}
