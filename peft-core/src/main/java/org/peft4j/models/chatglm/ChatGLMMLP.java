package org.peft4j.models.chatglm;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.nn.Functional;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;

/**
 * ChatGLM's {@code MLP}: {@code dense_4h_to_h(silu(a) * b)} where {@code [a | b] = dense_h_to_4h(x)} (SwiGLU, the
 * first {@code ffn_hidden_size} columns gated).
 */
public class ChatGLMMLP extends Module {
    private final long ffn;

    ChatGLMMLP(ChatGLMConfig c, DType dtype) {
        this.ffn = c.ffnHiddenSize;
        registerModule("dense_h_to_4h", new Linear(c.hiddenSize, 2 * c.ffnHiddenSize, c.addBiasLinear, dtype));
        registerModule("dense_4h_to_h", new Linear(c.ffnHiddenSize, c.hiddenSize, c.addBiasLinear, dtype));
    }

    Value forward(Graph g, Value x) {
        Value h = layer("dense_h_to_4h").forward(g, x);
        Value a = g.slice(h, new long[] {0}, new long[] {ffn}, new long[] {-1});
        Value b = g.slice(h, new long[] {ffn}, new long[] {2 * ffn}, new long[] {-1});
        return layer("dense_4h_to_h").forward(g, g.mul(Functional.silu(g, a), b));
    }
}
