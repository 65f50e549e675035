package org.peft4j.nn;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.tensor.DType;

/** A lookup table [num_embeddings, embedding_dim]: int64 ids in, vectors out. */
public class Embedding extends Layer {
    private final long numEmbeddings;
    private final long embeddingDim;
    private final Long paddingIdx;

    /**
     * A lookup table of {@code numEmbeddings} rows of {@code embeddingDim}, as torch's {@code nn.Embedding}, shape-only
     * until weights are loaded.
     *
     * @param numEmbeddings the vocabulary size
     * @param embeddingDim the width of a row
     * @param dtype the weight's dtype
     */
    public Embedding(long numEmbeddings, long embeddingDim, DType dtype) {
        this(numEmbeddings, embeddingDim, dtype, null);
    }

    /**
     * As {@link #Embedding(long, long, DType)}, with torch's {@code padding_idx}: the row of that id gets no gradient
     * (the forward is unchanged). transformers passes {@code config.pad_token_id} for most decoder models. An id
     * outside {@code [-numEmbeddings, numEmbeddings)} is refused, as torch refuses it.
     *
     * @param numEmbeddings the vocabulary size
     * @param embeddingDim the width of a row
     * @param dtype the weight's dtype
     * @param paddingIdx the padding row (negative counts from the end), or null for none
     * @throws IllegalArgumentException if {@code paddingIdx} is out of range
     */
    public Embedding(long numEmbeddings, long embeddingDim, DType dtype, Long paddingIdx) {
        this.numEmbeddings = numEmbeddings;
        this.embeddingDim = embeddingDim;
        if (paddingIdx != null && (paddingIdx >= numEmbeddings || paddingIdx < -numEmbeddings)) {
            throw new IllegalArgumentException("Padding_idx must be within num_embeddings (padding_idx " + paddingIdx
                    + ", num_embeddings " + numEmbeddings + ")");
        }
        this.paddingIdx = paddingIdx == null ? null : paddingIdx < 0 ? paddingIdx + numEmbeddings : paddingIdx;
        registerParameter("weight", new Parameter(dtype, numEmbeddings, embeddingDim));
    }

    /**
     * torch's {@code padding_idx}: the row that gets no gradient, or null.
     *
     * @return the padding row, non-negative, or null
     */
    public Long paddingIdx() {
        return paddingIdx;
    }

    /**
     * {@code table[ids]} where the rows looked up for {@code paddingIdx} pass no gradient to {@code table} (torch's
     * {@code F.embedding(..., padding_idx)}); the forward value is exactly the plain lookup. Without a padding row,
     * or when {@code trainable} is false, the plain lookup.
     *
     * @param g the graph
     * @param table the [rows, width] table
     * @param ids int64 ids
     * @param paddingIdx the padding row, or null
     * @param trainable whether a gradient can flow to the table
     * @return the looked-up rows
     */
    public static Value lookup(Graph g, Value table, Value ids, Long paddingIdx, boolean trainable) {
        Value e = g.gather(table, ids, 0);
        if (paddingIdx == null || !trainable) {
            return e;
        }
        // e + (detach(e) - e) * [id == padding_idx]: the same value, no gradient through the padding rows
        Value isPad = g.unsqueeze(g.cast(g.equal(ids, g.ints(paddingIdx)), e.dtype()), -1);
        return g.add(e, g.mul(g.sub(g.stopGradient(e), e), isPad));
    }

    /**
     * The number of rows (vocabulary size).
     *
     * @return the row count
     */
    public long numEmbeddings() {
        return numEmbeddings;
    }

    /**
     * The width of a row.
     *
     * @return the embedding dimension
     */
    public long embeddingDim() {
        return embeddingDim;
    }

    /**
     * The {@code [numEmbeddings, embeddingDim]} weight.
     *
     * @return the parameter
     */
    public Parameter weight() {
        return parameter("weight");
    }

    @Override
    public Value forward(Graph g, Value ids) {
        return lookup(g, g.param(weight()), ids, paddingIdx, weight().trainable());
    }

    @Override
    public String toString() {
        return "Embedding(" + numEmbeddings + ", " + embeddingDim
                + (paddingIdx == null ? "" : ", padding_idx=" + paddingIdx) + ")";
    }
}
