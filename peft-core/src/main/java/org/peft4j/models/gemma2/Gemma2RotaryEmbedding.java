package org.peft4j.models.gemma2;

import org.peft4j.models.llama.LlamaRotaryEmbedding;

/** Gemma 2's rotary embedding: Llama's, over {@code head_dim}, read from the same config fields. */
public class Gemma2RotaryEmbedding extends LlamaRotaryEmbedding {
    Gemma2RotaryEmbedding(Gemma2Config c) {
        super(c.raw, c.headDim);
    }
}
