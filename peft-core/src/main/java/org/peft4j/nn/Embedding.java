package org.peft4j.nn;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.tensor.DType;

/** A lookup table [num_embeddings, embedding_dim]: int64 ids in, vectors out. */
public class Embedding extends Layer {
    private final long numEmbeddings;
    private final long embeddingDim;

    public Embedding(long numEmbeddings, long embeddingDim, DType dtype) {
        this.numEmbeddings = numEmbeddings;
        this.embeddingDim = embeddingDim;
        registerParameter("weight", new Parameter(dtype, numEmbeddings, embeddingDim));
    }

    public long numEmbeddings() {
        return numEmbeddings;
    }

    public long embeddingDim() {
        return embeddingDim;
    }

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
