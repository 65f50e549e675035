package org.peft4j.models.chatglm;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.AttentionOps;
import org.peft4j.models.DecoderContext;
import org.peft4j.nn.Dropout;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;

/**
 * ChatGLM's {@code SelfAttention}: the fused {@code query_key_value} projection (multi-query: {@code heads * kv}
 * query columns, then {@code groups * kv} key and value columns; otherwise per head {@code [q | k | v]}), rotary
 * embedding on half of each head, key/value groups repeated to the heads, and the {@code dense} output projection.
 */
public class SelfAttention extends Module {
    private final ChatGLMConfig c;
    private final long headDim;
    private final int heads;
    private final int groups;

    SelfAttention(ChatGLMConfig c, DType dtype) {
        this.c = c;
        this.headDim = c.kvChannels;
        this.heads = c.numHeads;
        this.groups = c.multiQueryGroupNum;
        long projection = headDim * heads;
        long qkv = c.multiQueryAttention ? projection + 2 * headDim * groups : 3 * projection;
        registerModule("query_key_value", new Linear(c.hiddenSize, qkv, c.addBiasLinear || c.addQkvBias, dtype));
        registerModule("core_attention", new CoreAttention(c.attentionDropout));
        registerModule("dense", new Linear(projection, c.hiddenSize, c.addBiasLinear, dtype));
    }

    Value forward(Graph g, Value hidden, DecoderContext ctx, int layerIdx, ChatGLMRotaryEmbedding rope,
            Value allowed) {
        Value mixed = layer("query_key_value").forward(g, hidden);                    // [B,T,qkv]
        Value q;
        Value k;
        Value v;
        if (c.multiQueryAttention) {
            long qEnd = heads * headDim;
            long kEnd = qEnd + groups * headDim;
            q = g.slice(mixed, new long[] {0}, new long[] {qEnd}, new long[] {-1});
            k = g.slice(mixed, new long[] {qEnd}, new long[] {kEnd}, new long[] {-1});
            v = g.slice(mixed, new long[] {kEnd}, new long[] {kEnd + groups * headDim}, new long[] {-1});
            q = AttentionOps.splitHeads(g, q, heads, headDim);
            k = AttentionOps.splitHeads(g, k, groups, headDim);
            v = AttentionOps.splitHeads(g, v, groups, headDim);
        } else {
            Value per = g.reshape(mixed, 0, 0, heads, 3 * headDim);                  // [B,T,H,3D]
            q = g.transpose(g.slice(per, new long[] {0}, new long[] {headDim}, new long[] {-1}), 0, 2, 1, 3);
            k = g.transpose(g.slice(per, new long[] {headDim}, new long[] {2 * headDim}, new long[] {-1}), 0, 2, 1, 3);
            v = g.transpose(g.slice(per, new long[] {2 * headDim}, new long[] {3 * headDim}, new long[] {-1}),
                    0, 2, 1, 3);
        }
        q = ChatGLMRotaryEmbedding.apply(g, q, ctx.cos(), ctx.sin(), headDim, rope.rotaryDim());
        k = ChatGLMRotaryEmbedding.apply(g, k, ctx.cos(), ctx.sin(), headDim, rope.rotaryDim());
        Value[] kv = ctx.withCache(g, layerIdx, k, v);
        long nRep = heads / groups;
        Value kr = AttentionOps.repeatKv(g, kv[0], groups, nRep, headDim);
        Value vr = AttentionOps.repeatKv(g, kv[1], groups, nRep, headDim);
        // modeling_chatglm (torch >= 2) calls scaled_dot_product_attention: scale 1/sqrt(kv_channels), no dropout
        Value out = AttentionOps.attend(g, q, kr, vr, allowed, 1.0 / Math.sqrt(headDim));
        return layer("dense").forward(g, AttentionOps.mergeHeads(g, out, heads, headDim));
    }

    /**
     * ChatGLM's {@code CoreAttention}: holds only {@code attention_dropout}, which modeling_chatglm's torch-2 path
     * (scaled_dot_product_attention without a dropout argument) never applies.
     */
    public static class CoreAttention extends Module {
        CoreAttention(double p) {
            registerModule("attention_dropout", new Dropout(p));
        }
    }
}
