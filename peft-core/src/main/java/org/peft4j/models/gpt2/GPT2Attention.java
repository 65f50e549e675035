package org.peft4j.models.gpt2;

import java.util.List;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.AttentionOps;
import org.peft4j.models.DecoderContext;
import org.peft4j.nn.Conv1D;
import org.peft4j.nn.Dropout;
import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;

/** GPT-2 attention: fused c_attn (Conv1D to 3 * n_embd), c_proj, attn_dropout, resid_dropout. */
public class GPT2Attention extends Module {
    private final GPT2Config c;
    private final int layerIdx;

    GPT2Attention(GPT2Config c, int layerIdx, DType dtype) {
        this.c = c;
        this.layerIdx = layerIdx;
        registerModule("c_attn", new Conv1D(3 * c.nEmbd, c.nEmbd, dtype));
        registerModule("c_proj", new Conv1D(c.nEmbd, c.nEmbd, dtype));
        registerModule("attn_dropout", new Dropout(c.attnPdrop));
        registerModule("resid_dropout", new Dropout(c.residPdrop));
    }

    Value forward(Graph g, Value x, DecoderContext ctx) {
        long hd = c.headDim();
        List<Value> qkv = g.split(layer("c_attn").forward(g, x), -1, c.nEmbd, c.nEmbd, c.nEmbd);
        Value q = AttentionOps.splitHeads(g, qkv.get(0), c.nHead, hd);
        Value k = AttentionOps.splitHeads(g, qkv.get(1), c.nHead, hd);
        Value v = AttentionOps.splitHeads(g, qkv.get(2), c.nHead, hd);
        Value[] kv = ctx.withCache(g, layerIdx, k, v);
        double scale = c.scaleAttnWeights ? 1.0 / Math.sqrt(hd) : 1.0;
        if (c.scaleByInverseLayerIdx) {
            scale /= layerIdx + 1;
        }
        Value out = AttentionOps.attend(g, q, kv[0], kv[1], ctx.allowed(), scale, layer("attn_dropout"),
                false);
        Value merged = AttentionOps.mergeHeads(g, out, c.nHead, hd);
        return layer("resid_dropout").forward(g, layer("c_proj").forward(g, merged));
    }
}
