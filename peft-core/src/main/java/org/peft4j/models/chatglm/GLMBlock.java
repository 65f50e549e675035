package org.peft4j.models.chatglm;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.DecoderContext;
import org.peft4j.nn.LayerNorm;
import org.peft4j.nn.Module;
import org.peft4j.nn.RMSNorm;
import org.peft4j.tensor.DType;

/**
 * One ChatGLM layer ({@code GLMBlock}): input_layernorm, self_attention, post_attention_layernorm, mlp, with the
 * residual taken after the norm when {@code apply_residual_connection_post_layernorm}.
 */
public class GLMBlock extends Module {
    private final boolean residualPostNorm;

    GLMBlock(ChatGLMConfig c, DType dtype) {
        this.residualPostNorm = c.applyResidualConnectionPostLayernorm;
        registerModule("input_layernorm", norm(c, dtype));
        registerModule("self_attention", new SelfAttention(c, dtype));
        registerModule("post_attention_layernorm", norm(c, dtype));
        registerModule("mlp", new ChatGLMMLP(c, dtype));
    }

    /** RMSNorm, or torch's LayerNorm (with bias) when {@code rmsnorm} is false. */
    static Module norm(ChatGLMConfig c, DType dtype) {
        return c.rmsnorm ? new RMSNorm(c.hiddenSize, c.layernormEpsilon, dtype)
                : new LayerNorm(c.hiddenSize, c.layernormEpsilon, true, dtype);
    }

    Value forward(Graph g, Value h, DecoderContext ctx, int idx, ChatGLMRotaryEmbedding rope, Value allowed) {
        Value ln = layer("input_layernorm").forward(g, h);
        Value attn = ((SelfAttention) child("self_attention")).forward(g, ln, ctx, idx, rope, allowed);
        Value lnInput = g.add(residualPostNorm ? ln : h, attn);
        Value ln2 = layer("post_attention_layernorm").forward(g, lnInput);
        Value mlp = ((ChatGLMMLP) child("mlp")).forward(g, ln2);
        return g.add(residualPostNorm ? ln2 : lnInput, mlp);
    }
}
