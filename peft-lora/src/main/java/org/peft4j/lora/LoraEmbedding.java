package org.peft4j.lora;

import java.util.List;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.models.gemma2.Gemma2TextScaledWordEmbedding;
import org.peft4j.nn.Embedding;
import org.peft4j.peft.tuners.AdapterSelection;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * LoRA on an {@link Embedding} ({@code lora.Embedding}): parameters {@code lora_embedding_A} [r, num_embeddings] and
 * {@code lora_embedding_B} [embedding_dim, r]; {@code y = base(ids) + (A^T[ids] B^T) * scaling}. As in PEFT, the
 * adapter's dropout is created but not applied, and the delta is {@code (B A)^T * scaling} [num, dim].
 */
public class LoraEmbedding extends LoraLayer {
    private final long numEmbeddings;
    private final long embeddingDim;

    /** LoRA on {@code base}. */
    public LoraEmbedding(Embedding base) {
        super(base);
        this.numEmbeddings = base.numEmbeddings();
        this.embeddingDim = base.embeddingDim();
    }

    @Override
    public String typeName() {
        return "Embedding";
    }

    /**
     * The vocabulary size of the base embedding.
     *
     * @return the row count
     */
    public long numEmbeddings() {
        return numEmbeddings;
    }

    /**
     * The width of the base embedding.
     *
     * @return the embedding dimension
     */
    public long embeddingDim() {
        return embeddingDim;
    }

    Parameter baseWeight() {
        return baseLayer().parameter("weight");
    }

    /**
     * Adds adapter {@code spec.name()}: A [r, num_embeddings] and B [embedding_dim, r].
     *
     * @throws IllegalArgumentException for {@code lora_bias} or a variant (DoRA)
     */
    @Override
    public void updateLayer(LoraAdapterSpec spec) {
        if (spec.loraBias()) {
            throw new IllegalArgumentException("lora_bias=True is not supported for Embedding.");
        }
        if (spec.useDora()) {
            throw new IllegalArgumentException("DoRA on an Embedding layer is not supported by peft4j; target "
                    + "Linear layers with use_dora=True");
        }
        if (spec.variant() != null) {
            throw new IllegalArgumentException("LoRA variant " + spec.variant() + " is not supported for Embedding.");
        }
        String name = spec.name();
        int rank = spec.r();
        putCommon(spec);
        loraEmbeddingA().put(name, new Parameter(DType.F32, rank, numEmbeddings));
        loraEmbeddingB().put(name, new Parameter(DType.F32, embeddingDim, rank));
        LoraInit.embedding(this, name, spec.init(), spec.rng());
        setAdapter(active, false);
    }

    /** The delta {@code (B A)^T * scaling} in float32 [num_embeddings, embedding_dim]. */
    public Tensor getDeltaWeight(String adapter) {
        return LoraMath.deltaWeight(loraEmbeddingA().get(adapter).data(), loraEmbeddingB().get(adapter).data(),
                scaling.get(adapter), true);
    }

    @Override
    public Value forward(Graph g, Value ids) {
        Value result = baseLayer().forward(g, ids);
        if (disabled() || merged()) {
            return result;
        }
        DType outType = result.dtype();
        Value acc = outType == DType.F32 ? result : g.cast(result, DType.F32);
        AdapterSelection rows = AdapterSelection.current();
        for (String a : rows == null ? active : rows.uniqueAdapters()) {
            if (!r.containsKey(a)) {
                continue;
            }
            Value at = g.transpose(g.param(loraEmbeddingA().get(a)), 1, 0);
            // PEFT's _embed passes the base layer's padding_idx: the padding column of lora_embedding_A gets no gradient
            Long pad = baseLayer() instanceof org.peft4j.nn.Embedding e ? e.paddingIdx() : null;
            Value afterA = org.peft4j.nn.Embedding.lookup(g, at, ids, pad, loraEmbeddingA().get(a).trainable());
            Value bt = g.transpose(g.param(loraEmbeddingB().get(a)), 1, 0);
            Value delta = g.mulScalar(g.matmul(afterA, bt), scaling.get(a));
            if (baseLayer() instanceof Gemma2TextScaledWordEmbedding) {
                // PEFT scales the adapter's output as the layer scales the embedding (_get_embed_scale)
                delta = g.mulScalar(delta, ((Gemma2TextScaledWordEmbedding) baseLayer()).embedScale());
            }
            if (rows != null) {
                // PEFT's _mixed_batch_forward: each row gets only its own adapter's delta
                delta = g.mul(delta, rows.mask(g, a));
            }
            acc = g.add(acc, delta);
        }
        return outType == DType.F32 ? acc : g.cast(acc, outType);
    }

    @Override
    public void merge(boolean safeMerge, List<String> names) {
        for (String a : toMerge(names)) {
            LoraMath.merge(this, a, safeMerge);
            merged.add(a);
        }
    }

    @Override
    protected void unmergeOne(String a) {
        LoraMath.unmerge(this, a);
    }

    @Override
    public String toString() {
        return "lora.Embedding(" + baseLayer() + ", r=" + r + ")";
    }
}
