package org.peft4j.lora;

import java.util.List;
import java.util.Random;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.nn.Embedding;
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

    LoraEmbedding(Embedding base) {
        super(base);
        this.numEmbeddings = base.numEmbeddings();
        this.embeddingDim = base.embeddingDim();
    }

    @Override
    public String typeName() {
        return "Embedding";
    }

    public long numEmbeddings() {
        return numEmbeddings;
    }

    public long embeddingDim() {
        return embeddingDim;
    }

    Parameter baseWeight() {
        return baseLayer().parameter("weight");
    }

    void updateLayer(String name, int rank, double alpha, double dropout, Object init, boolean rslora, boolean dora,
            boolean bias, Random rng) {
        if (bias) {
            throw new IllegalArgumentException("lora_bias=True is not supported for Embedding.");
        }
        if (dora) {
            throw new IllegalArgumentException("DoRA on an Embedding layer is not supported by peft4j; target "
                    + "Linear layers with use_dora=True");
        }
        putCommon(name, rank, alpha, rslora, dropout, false, false);
        loraEmbeddingA().put(name, new Parameter(DType.F32, rank, numEmbeddings));
        loraEmbeddingB().put(name, new Parameter(DType.F32, embeddingDim, rank));
        LoraInit.embedding(this, name, init, rng);
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
        for (String a : active) {
            if (!r.containsKey(a)) {
                continue;
            }
            Value at = g.transpose(g.param(loraEmbeddingA().get(a)), 1, 0);
            Value afterA = g.gather(at, ids, 0);
            Value bt = g.transpose(g.param(loraEmbeddingB().get(a)), 1, 0);
            acc = g.add(acc, g.mulScalar(g.matmul(afterA, bt), scaling.get(a)));
        }
        return outType == DType.F32 ? acc : g.cast(acc, outType);
    }

    @Override
    public void merge(boolean safeMerge, List<String> names) {
        for (String a : toMerge(names)) {
            Tensor w = baseWeight().data();
            // W [num, dim] + (B A)^T s: with "A" = lora_embedding_A [r, num] and "B" = lora_embedding_B [dim, r],
            // the fan-in-fan-out form of the linear merge
            LoraMath.Merged m = LoraMath.addDelta(w, loraEmbeddingA().get(a).data(), loraEmbeddingB().get(a).data(),
                    scaling.get(a), true, +1, safeMerge, LoraMath.canMergeInPlace(w, safeMerge));
            if (safeMerge && !m.finite) {
                throw new IllegalArgumentException("NaNs detected in the merged weights. The adapter " + a
                        + " seems to be broken");
            }
            baseWeight().setData(m.weight);
            merged.add(a);
        }
    }

    @Override
    void unmergeOne(String a) {
        Tensor w = baseWeight().data();
        baseWeight().setData(LoraMath.addDelta(w, loraEmbeddingA().get(a).data(), loraEmbeddingB().get(a).data(),
                scaling.get(a), true, -1, false, LoraMath.canMergeInPlace(w, false)).weight);
    }

    @Override
    public String toString() {
        return "lora.Embedding(" + baseLayer() + ", r=" + r + ")";
    }
}
