package org.peft4j.models.chatglm;

import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Shape;
import org.peft4j.graph.Value;
import org.peft4j.models.AttentionOps;
import org.peft4j.models.DecoderContext;
import org.peft4j.nn.Embedding;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;

/** ChatGLM's {@code transformer} ({@code ChatGLMModel}): embedding, rotary_pos_emb, encoder, output_layer. */
public class ChatGLMModel extends Module {
    ChatGLMModel(ChatGLMConfig c, DType dtype) {
        registerModule("embedding", new WordEmbedding(c, dtype));
        registerModule("rotary_pos_emb", new ChatGLMRotaryEmbedding(c, dtype));
        registerModule("encoder", new GLMTransformer(c, dtype));
        registerModule("output_layer", new Linear(c.hiddenSize, c.vocabSize, false, dtype));
    }

    /**
     * Emits the encoder over the embeddings [B, T, hidden]. Positions are {@code past .. past + T - 1} for every row,
     * pads included, as modeling_chatglm's {@code get_position_ids} (it does not shift positions for left padding);
     * position ids given by the caller are not used.
     */
    Value forward(Graph g, Value h, DecoderContext ctx) {
        Value seqLen = g.dimOf(h, 1);
        Value pastLen = g.sub(g.dimOf(ctx.allowed(), 3), seqLen);
        Value positions = AttentionOps.defaultPositions(g, seqLen, pastLen);
        ChatGLMRotaryEmbedding rope = (ChatGLMRotaryEmbedding) child("rotary_pos_emb");
        Value[] cs = rope.cosSin(g, positions);
        ctx.setRotary(cs[0], cs[1]);
        return ((GLMTransformer) child("encoder")).forward(g, h, ctx, rope, allowed(g, ctx, pastLen));
    }

    /**
     * modeling_chatglm's {@code get_masks}: causal and not a padded key, except that without a cache a padded query
     * row attends to every key ({@code full_attention_mask -= padding_mask.unsqueeze(-1) - 1}), so the logits at
     * pad positions (which predict the first real token of a left-padded row) are the reference's too.
     */
    static Value allowed(Graph g, DecoderContext ctx, Value pastLen) {
        Value allowed = ctx.allowed();
        Value mask = ctx.attentionMask();
        if (mask == null) {
            return allowed;
        }
        Value queries = g.slice(mask, g.unsqueeze(pastLen, 0), g.unsqueeze(g.dimOf(mask, 1), 0), 1,
                Shape.of(mask.shape().dim(0), Dim.unknown()));
        Value padQuery = g.equal(queries, g.intScalar(0));                                 // [B,T]
        Value noPast = g.equal(pastLen, g.intScalar(0));
        Value all = g.and(g.unsqueeze(padQuery, 1, 3), noPast);                            // [B,1,T,1]
        return g.not(g.and(g.not(allowed), g.not(all)));
    }

    /** ChatGLM's {@code Embedding} module: holds {@code word_embeddings}. */
    public static class WordEmbedding extends Module {
        WordEmbedding(ChatGLMConfig c, DType dtype) {
            registerModule("word_embeddings", new Embedding(c.vocabSize, c.hiddenSize, dtype));
        }
    }
}
