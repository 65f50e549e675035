package org.peft4j.train;

import java.util.Objects;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.CausalLMOutput;

/**
 * What a {@link TrainStep} minimises, emitted into the training graph from the model's output and the labels. The
 * causal-LM cross entropy ({@link #causalLM()}) is the default; a method that adds a regulariser (AdaLoRA's
 * orthogonality penalty) adds a {@linkplain #plus term}. The model's own {@code CausalLM#transformLoss} is applied
 * after it. Implementations are stateless and thread-safe.
 */
@FunctionalInterface
public interface LossSpec {
    /**
     * The scalar loss, a rank-0 floating value.
     *
     * @param out the model's output (logits over the input's positions)
     * @param labels int64 [batch, seq], {@link org.peft4j.data.Batch#IGNORE_INDEX} where nothing is counted
     */
    Value build(Graph g, CausalLMOutput out, Value labels);

    /**
     * transformers' causal-LM loss: mean cross entropy of the next-token predictions over counted labels (the first
     * label counts too when the output has {@link CausalLMOutput#lossLogits()}).
     */
    static LossSpec causalLM() {
        return (g, out, labels) -> CausalLMLoss.build(g, out.logits(), labels, out.lossLogits());
    }

    /** An extra term of the loss, emitted from the model's output (a regulariser reads parameters directly). */
    @FunctionalInterface
    interface Term {
        /**
         * Emits the term.
         *
         * @param g the graph
         * @param out the model's outputs
         * @return a scalar to add to the loss
         */
        Value build(Graph g, CausalLMOutput out);
    }

    /** This loss plus {@code term} (same dtype). */
    default LossSpec plus(Term term) {
        Objects.requireNonNull(term, "term");
        return (g, out, labels) -> g.add(build(g, out, labels), term.build(g, out));
    }
}
