package org.peft4j.nn;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.tensor.DType;

/** A lookup table [num_embeddings, embedding_dim]: int64 ids in, vectors out. */
public class Embedding extends Layer {
    private final long numEmbeddings;
    private final long embeddingDim;

    /**
     * A lookup table of {@code numEmbeddings} rows of {@code embeddingDim}, as torch's {@code nn.Embedding}, shape-only
     * until weights are loaded.
     *
     * @param numEmbeddings the vocabulary size
     * @param embeddingDim the width of a row
     * @param dtype the weight's dtype
     */
    public Embedding(long numEmbeddings, long embeddingDim, DType dtype) {
        this.numEmbeddings = numEmbeddings;
        this.embeddingDim = embeddingDim;
        registerParameter("weight", new Parameter(dtype, numEmbeddings, embeddingDim));
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
        return g.gather(g.param(weight()), ids, 0);
    }

    @Override
    public String toString() {
        return "Embedding(" + numEmbeddings + ", " + embeddingDim + ")";
    }
}
