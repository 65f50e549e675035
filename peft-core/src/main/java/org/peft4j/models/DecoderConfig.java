package org.peft4j.models;

/**
 * The dimensions of a decoder-only transformer's parsed configuration that {@link PreTrainedModel}'s accessors
 * report ({@code num_hidden_layers}, {@code num_key_value_heads}, {@code head_dim}, {@code vocab_size}, {@code
 * hidden_size}, {@code tie_word_embeddings}); implemented by the family configs so that {@link DecoderForCausalLM}
 * answers them once for all families.
 */
public interface DecoderConfig {
    /** {@code num_hidden_layers}. */
    int numLayers();

    /** {@code num_key_value_heads} (the number of heads for families without grouped-query attention). */
    int numKvHeads();

    /** The per-head width ({@code head_dim}, or {@code hidden_size / num_attention_heads}). */
    long headDim();

    /** {@code vocab_size}. */
    long vocabSize();

    /** {@code hidden_size}. */
    long hiddenSize();

    /** {@code tie_word_embeddings}. */
    boolean tieWordEmbeddings();
}
