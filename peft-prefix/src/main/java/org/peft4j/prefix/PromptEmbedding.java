package org.peft4j.prefix;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.nn.Embedding;
import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;

/**
 * Prompt tuning's encoder (PEFT's {@code PromptEmbedding}): an {@code embedding} of
 * {@code num_virtual_tokens * num_transformer_submodules} rows of {@code token_dim}, whose rows are the virtual
 * tokens. Not thread-safe.
 */
public final class PromptEmbedding extends Module {
    private final Embedding embedding;

    /** An embedding of {@code total} rows of {@code tokenDim} float32 values (uninitialised). */
    public PromptEmbedding(long total, long tokenDim) {
        this.embedding = registerModule("embedding", new Embedding(total, tokenDim, DType.F32));
    }

    /** The {@code embedding} whose weight holds the virtual tokens. */
    public Embedding embedding() {
        return embedding;
    }

    /** The virtual tokens {@code [1, total, token_dim]}. */
    Value forward(Graph g) {
        return g.unsqueeze(g.param(embedding.weight()), 0);
    }
}
