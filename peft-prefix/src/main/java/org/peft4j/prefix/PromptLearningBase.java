package org.peft4j.prefix;

import java.util.List;
import java.util.Map;
import java.util.Random;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Shape;
import org.peft4j.graph.Value;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.gemma2.Gemma2TextScaledWordEmbedding;
import org.peft4j.nn.Embedding;
import org.peft4j.nn.Module;
import org.peft4j.peft.tuners.PromptLearningConfig;
import org.peft4j.peft.tuners.PromptLearningTuner;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * What prompt tuning and P-tuning share: initialisation helpers, the batch expansion, the saved key. The input
 * transform (virtual tokens prepended, explicit position ids dropped as PEFT) is the core default's.
 */
abstract class PromptLearningBase extends PromptLearningTuner {
    /** The one key of a saved prompt-learning adapter. */
    static final String PROMPT_EMBEDDINGS = "prompt_embeddings";

    PromptLearningBase(PreTrainedModel model) {
        super(model);
    }

    static int totalVirtualTokens(PromptLearningConfig c) {
        return c.numVirtualTokens() * c.numTransformerSubmodules();
    }

    /** PEFT's {@code word_embeddings}: the base model's input embedding. */
    Embedding wordEmbeddings() {
        Module m = model.inputEmbeddings();
        if (!(m instanceof Embedding)) {
            throw new IllegalStateException("prompt tuning needs the model's input embedding as an Embedding, got "
                    + m.getClass().getSimpleName());
        }
        return (Embedding) m;
    }

    /**
     * Rows {@code ids} of the word embeddings as their forward gives them, as float32 (PEFT's
     * {@code word_embeddings(ids).float()}): Gemma 2's scaled embedding multiplies by its scale in the weight's dtype.
     */
    Tensor embeddingRows(long[] ids) {
        Embedding we = wordEmbeddings();
        long vocab = we.numEmbeddings();
        long d = we.embeddingDim();
        float[] all = we.weight().data().toFloatArray();
        float[] out = new float[(int) (ids.length * d)];
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocab) {
                throw new IllegalArgumentException("token id " + ids[i] + " is out of the vocabulary (" + vocab
                        + ")");
            }
            System.arraycopy(all, (int) (ids[i] * d), out, (int) (i * d), (int) d);
        }
        Tensor rows = Tensor.of(out, ids.length, d);
        if (we instanceof Gemma2TextScaledWordEmbedding scaled) {
            // embedding(ids) * embed_scale.to(weight.dtype): the product in float32, rounded to a half weight's dtype
            DType wt = we.weight().dtype();
            float scale = Tensor.of(new float[] {(float) scaled.embedScale()}, 1).to(wt).toFloatArray()[0];
            for (int i = 0; i < out.length; i++) {
                out[i] *= scale;
            }
            rows = Tensor.of(out, ids.length, d);
            if (wt != DType.F32) {
                rows = rows.to(wt).to(DType.F32);
            }
        }
        return rows;
    }

    /** Standard normal values (nn.Embedding's default init). */
    static Tensor normal(Random rng, long rows, long cols) {
        float[] v = new float[(int) (rows * cols)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rng.nextGaussian();
        }
        return Tensor.of(v, rows, cols);
    }

    /**
     * {@code [1, n, token_dim]} prompts repeated over the batch and cast to the model's dtype (PEFT's
     * {@code prompts.repeat(B, 1, 1).to(dtype)}).
     */
    Value expandToBatch(Graph g, String adapter, Value prompts, Value batchSize) {
        PromptLearningConfig c = config(adapter);
        int n = c.numVirtualTokens();
        if (totalVirtualTokens(c) != n) {
            prompts = g.slice(prompts, new long[] {0}, new long[] {n}, new long[] {1});
        }
        if (prompts.dtype() != model.dtype()) {
            prompts = g.cast(prompts, model.dtype());
        }
        Value shape = g.concat(0, g.unsqueeze(batchSize, 0), g.ints(n, c.tokenDim()));
        return g.expand(prompts, shape, Shape.of(Dim.of("batch"), Dim.of(n), Dim.of(c.tokenDim())));
    }

    /** Copies a saved {@code prompt_embeddings} into {@code embedding.weight} (PEFT loads it strictly). */
    static Module.LoadResult loadPromptEmbeddings(Map<String, Tensor> saved, String name, Embedding embedding) {
        Tensor t = saved.get(PROMPT_EMBEDDINGS);
        if (t == null) {
            return new Module.LoadResult(List.of("prompt_encoder." + name + ".embedding.weight"),
                    List.copyOf(saved.keySet()));
        }
        long[] want = {embedding.numEmbeddings(), embedding.embeddingDim()};
        if (!java.util.Arrays.equals(t.shape(), want)) {
            throw new IllegalArgumentException("size mismatch for embedding.weight: copying a param with shape "
                    + java.util.Arrays.toString(t.shape()) + " from checkpoint, the shape in current model is "
                    + java.util.Arrays.toString(want) + ".");
        }
        embedding.weight().setData(t.to(DType.F32));
        List<String> unexpected = saved.keySet().stream().filter(k -> !k.equals(PROMPT_EMBEDDINGS)).toList();
        return new Module.LoadResult(List.of(), unexpected);
    }
}
