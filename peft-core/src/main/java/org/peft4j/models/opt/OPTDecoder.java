package org.peft4j.models.opt;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.DecoderContext;
import org.peft4j.nn.Dropout;
import org.peft4j.nn.Embedding;
import org.peft4j.nn.LayerNorm;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.nn.ModuleList;
import org.peft4j.tensor.DType;

/**
 * The OPT decoder: embed_tokens ({@code word_embed_proj_dim} wide), embed_positions (learned, offset 2), project_in /
 * project_out when {@code word_embed_proj_dim != hidden_size}, layers, and final_layer_norm for pre-norm models.
 */
public class OPTDecoder extends Module {
    /** OPT's learned positions are looked up at {@code position + 2}. */
    public static final long POSITION_OFFSET = 2;

    private final OPTConfig c;
    private final Dropout dropout;

    OPTDecoder(OPTConfig c, DType dtype) {
        this.c = c;
        this.dropout = new Dropout(c.dropout);
        registerModule("embed_tokens", new Embedding(c.vocabSize, c.wordEmbedProjDim, dtype, c.padTokenId));
        registerModule("embed_positions", new Embedding(c.maxPositionEmbeddings + POSITION_OFFSET, c.hiddenSize,
                dtype));
        if (c.projects()) {
            registerModule("project_out", new Linear(c.hiddenSize, c.wordEmbedProjDim, false, dtype));
            registerModule("project_in", new Linear(c.wordEmbedProjDim, c.hiddenSize, false, dtype));
        }
        if (c.hasFinalLayerNorm()) {
            registerModule("final_layer_norm", new LayerNorm(c.hiddenSize, 1e-5, true, dtype));
        }
        ModuleList layers = registerModule("layers", new ModuleList());
        for (int i = 0; i < c.numLayers; i++) {
            layers.add(new OPTDecoderLayer(c, i, dtype));
        }
    }

    /** Emits the decoder over token embeddings [B, T, word_embed_proj_dim] (prefix embeddings included). */
    Value forward(Graph g, Value h, DecoderContext ctx) {
        Value pos = g.add(positions(g, ctx), g.intScalar(POSITION_OFFSET));
        if (c.projects()) {
            h = layer("project_in").forward(g, h);
        }
        h = g.add(h, layer("embed_positions").forward(g, pos));
        h = dropout.forward(g, h);
        ModuleList layers = (ModuleList) child("layers");
        for (int i = 0; i < layers.size(); i++) {
            try (Graph.Scope s = g.scope("model.decoder.layers." + i)) {
                h = ((OPTDecoderLayer) layers.get(i)).forward(g, h, ctx);
            }
            // gradient checkpointing keeps each layer's output and recomputes the layer's activations
            h = g.checkpoint(h);
        }
        if (c.hasFinalLayerNorm()) {
            h = layer("final_layer_norm").forward(g, h);
        }
        if (c.projects()) {
            h = layer("project_out").forward(g, h);
        }
        return h;
    }

    /**
     * transformers' OPT positions: the given position ids, else {@code (cumsum(mask) * mask - 1)[:, past:]} (so a
     * left-padded row starts at 0 at its first token, and pads get -1), which without a mask is
     * {@code past .. past + T - 1}.
     */
    static Value positions(Graph g, DecoderContext ctx) {
        Value mask = ctx.attentionMask();
        if (ctx.positionIdsGiven() || mask == null) {
            return ctx.positions();
        }
        // cumsum along the keys as a matmul with an upper-triangular matrix of ones (exact in float32 for < 2^24)
        Value one = g.intScalar(1);
        Value total = g.dimOf(mask, 1);
        Value idx = g.range(g.intScalar(0), total, one);
        Value upper = g.cast(g.lessOrEqual(g.unsqueeze(idx, 1), g.unsqueeze(idx, 0)), DType.F32);   // [S,S] j<=i
        Value m = g.cast(mask, DType.F32);
        Value cumsum = g.matmul(m, upper);                                                            // [B,S]
        Value pos = g.sub(g.cast(g.mul(cumsum, m), DType.I64), one);
        Value start = g.unsqueeze(ctx.pastLength(), 0);
        Value end = g.unsqueeze(total, 0);
        return g.slice(pos, start, end, 1, org.peft4j.graph.Shape.of(mask.shape().dim(0),
                org.peft4j.graph.Dim.unknown()));
    }
}
