package org.peft4j.models.opt;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.AttentionOps;
import org.peft4j.models.DecoderContext;
import org.peft4j.nn.Dropout;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;

/**
 * OPT self-attention: k_proj, v_proj, q_proj, out_proj. As transformers, the queries are scaled by
 * {@code head_dim^-0.5} right after q_proj and the scores are not scaled again; the softmax runs in float32.
 */
public class OPTAttention extends Module {
    private final OPTConfig c;
    private final int layerIdx;
    private final Dropout attnDropout;

    OPTAttention(OPTConfig c, int layerIdx, DType dtype) {
        this.c = c;
        this.layerIdx = layerIdx;
        this.attnDropout = new Dropout(c.attentionDropout);
        registerModule("k_proj", new Linear(c.hiddenSize, c.hiddenSize, c.enableBias, dtype));
        registerModule("v_proj", new Linear(c.hiddenSize, c.hiddenSize, c.enableBias, dtype));
        registerModule("q_proj", new Linear(c.hiddenSize, c.hiddenSize, c.enableBias, dtype));
        registerModule("out_proj", new Linear(c.hiddenSize, c.hiddenSize, c.enableBias, dtype));
    }

    Value forward(Graph g, Value x, DecoderContext ctx) {
        long hd = c.headDim();
        Value q = g.mulScalar(layer("q_proj").forward(g, x), Math.pow(hd, -0.5));
        q = AttentionOps.splitHeads(g, q, c.numHeads, hd);
        Value k = AttentionOps.splitHeads(g, layer("k_proj").forward(g, x), c.numHeads, hd);
        Value v = AttentionOps.splitHeads(g, layer("v_proj").forward(g, x), c.numHeads, hd);
        Value[] kv = ctx.withCache(g, layerIdx, k, v);
        Value out = AttentionOps.attend(g, q, kv[0], kv[1], ctx.allowed(), 1.0, attnDropout, true);
        return layer("out_proj").forward(g, AttentionOps.mergeHeads(g, out, c.numHeads, hd));
    }
}
