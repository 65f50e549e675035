package org.peft4j.models.phi3;

import java.util.List;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.AttentionOps;
import org.peft4j.models.DecoderContext;
import org.peft4j.nn.Dropout;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;

/** Phi-3 attention: fused qkv_proj (q, then k, then v), rotary on the first rotary_dim dims, GQA, o_proj. */
public class Phi3Attention extends Module {
    private final Phi3Config c;
    private final int layerIdx;
    private final Dropout attnDropout;

    Phi3Attention(Phi3Config c, int layerIdx, DType dtype) {
        this.c = c;
        this.layerIdx = layerIdx;
        this.attnDropout = new Dropout(c.attentionDropout);
        long opSize = c.numHeads * c.headDim + 2 * c.numKvHeads * c.headDim;
        registerModule("o_proj", new Linear(c.numHeads * c.headDim, c.hiddenSize, false, dtype));
        registerModule("qkv_proj", new Linear(c.hiddenSize, opSize, false, dtype));
    }

    Value forward(Graph g, Value x, DecoderContext ctx) {
        long hd = c.headDim;
        long kvw = c.numKvHeads * hd;
        List<Value> qkv = g.split(layer("qkv_proj").forward(g, x), -1, c.numHeads * hd, kvw, kvw);
        Value q = AttentionOps.splitHeads(g, qkv.get(0), c.numHeads, hd);
        Value k = AttentionOps.splitHeads(g, qkv.get(1), c.numKvHeads, hd);
        Value v = AttentionOps.splitHeads(g, qkv.get(2), c.numKvHeads, hd);
        q = Phi3RotaryEmbedding.apply(g, q, ctx.cos(), ctx.sin(), hd, c.rotaryDim);
        k = Phi3RotaryEmbedding.apply(g, k, ctx.cos(), ctx.sin(), hd, c.rotaryDim);
        Value[] kv = ctx.withCache(g, layerIdx, k, v);
        long nRep = c.numHeads / c.numKvHeads;
        Value kr = AttentionOps.repeatKv(g, kv[0], c.numKvHeads, nRep, hd);
        Value vr = AttentionOps.repeatKv(g, kv[1], c.numKvHeads, nRep, hd);
        Value allowed = c.slidingWindow == null ? ctx.allowed() : ctx.allowed(g, c.slidingWindow);
        Value out = AttentionOps.attend(g, q, kr, vr, allowed, 1.0 / Math.sqrt(hd), attnDropout, true);
        return layer("o_proj").forward(g, AttentionOps.mergeHeads(g, out, c.numHeads, hd));
    }
}
