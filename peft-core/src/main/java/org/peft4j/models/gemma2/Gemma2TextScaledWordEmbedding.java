package org.peft4j.models.gemma2;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.nn.Embedding;
import org.peft4j.nn.Functional;
import org.peft4j.tensor.DType;

/**
 * Gemma's token embedding, scaled by {@code sqrt(hidden_size)} as transformers'
 * {@code Gemma2TextScaledWordEmbedding}: the scale is a float32 tensor converted to the weight's dtype
 * ({@code embed_scale.to(weight.dtype)}), so in float16 it is rounded to float16 first (sqrt(2304) = 48 is exact,
 * sqrt(3072) = 55.4256 becomes 55.4375). Embeddings passed in directly (prompt tuning's virtual tokens) are not
 * scaled, as in transformers.
 */
public class Gemma2TextScaledWordEmbedding extends Embedding {
    private final double scale;

    /**
     * An embedding whose output is multiplied by {@code sqrt(embeddingDim)}, as Gemma's.
     *
     * @param numEmbeddings the vocabulary size
     * @param embeddingDim the width of a row
     * @param dtype the weight's dtype
     */
    public Gemma2TextScaledWordEmbedding(long numEmbeddings, long embeddingDim, DType dtype) {
        this(numEmbeddings, embeddingDim, dtype, null);
    }

    /**
     * As {@link #Gemma2TextScaledWordEmbedding(long, long, DType)}, with torch's {@code padding_idx}.
     *
     * @param numEmbeddings the vocabulary size
     * @param embeddingDim the width of a row
     * @param dtype the weight's dtype
     * @param paddingIdx the padding row (no gradient), or null
     */
    public Gemma2TextScaledWordEmbedding(long numEmbeddings, long embeddingDim, DType dtype, Long paddingIdx) {
        super(numEmbeddings, embeddingDim, dtype, paddingIdx);
        this.scale = (float) Math.sqrt(embeddingDim);
    }

    /** The scale as a float32 value ({@code torch.tensor(hidden_size ** 0.5)}). */
    public double embedScale() {
        return scale;
    }

    @Override
    public Value forward(Graph g, Value ids) {
        Value e = super.forward(g, ids);
        if (Functional.isHalf(e.dtype())) {
            return Functional.halfMul(g, e, g.scalar(scale, e.dtype()));
        }
        return g.mulScalar(e, scale);
    }

    @Override
    public String toString() {
        return "Gemma2TextScaledWordEmbedding(" + numEmbeddings() + ", " + embeddingDim()
                + (paddingIdx() == null ? "" : ", padding_idx=" + paddingIdx()) + ")";
    }
}
