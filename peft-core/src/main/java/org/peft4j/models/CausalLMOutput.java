package org.peft4j.models;

import java.util.Collections;
import java.util.List;
import org.peft4j.graph.Value;

/** What a causal LM's forward emits: logits [batch, seq, vocab] and, with a cache, the present keys and values. */
public final class CausalLMOutput {
    private final Value logits;
    private final Value hiddenStates;
    private final List<Value> presentKeys;
    private final List<Value> presentValues;
    private final Value lossLogits;

    /**
     * A decoder's outputs without separate loss logits.
     *
     * @param logits {@code [batch, seq, vocab]}
     * @param hiddenStates the last hidden states {@code [batch, seq, hidden]}
     * @param presentKeys the updated key cache per layer, or null
     * @param presentValues the updated value cache per layer, or null
     */
    public CausalLMOutput(Value logits, Value hiddenStates, List<Value> presentKeys, List<Value> presentValues) {
        this(logits, hiddenStates, presentKeys, presentValues, null);
    }

    private CausalLMOutput(Value logits, Value hiddenStates, List<Value> presentKeys, List<Value> presentValues,
            Value lossLogits) {
        this.logits = logits;
        this.hiddenStates = hiddenStates;
        this.presentKeys = presentKeys == null ? List.of() : Collections.unmodifiableList(presentKeys);
        this.presentValues = presentValues == null ? List.of() : Collections.unmodifiableList(presentValues);
        this.lossLogits = lossLogits;
    }

    /**
     * This output with {@code lossLogits}: {@link #logits()} with one more position in front, e.g. from the last
     * virtual token of prompt learning on, whose logits predict the first label.
     */
    public CausalLMOutput withLossLogits(Value lossLogits) {
        return new CausalLMOutput(logits, hiddenStates, presentKeys, presentValues, lossLogits);
    }

    /**
     * The logits the causal-LM loss reads when they differ from {@link #logits()}: [batch, 1 + seq, vocab], the
     * position before the first of {@code logits()} included, so that every label is predicted (PEFT's prompt
     * learning: the last virtual token predicts the first real one); null when the output starts at the sequence's
     * first position.
     */
    public Value lossLogits() {
        return lossLogits;
    }

    /**
     * The next-token logits.
     *
     * @return {@code [batch, seq, vocab]}
     */
    public Value logits() {
        return logits;
    }

    /** The final hidden states (after the last norm), [batch, seq, hidden]. */
    public Value hiddenStates() {
        return hiddenStates;
    }

    /**
     * The updated key cache, one per layer.
     *
     * @return the keys, or null without a cache
     */
    public List<Value> presentKeys() {
        return presentKeys;
    }

    /**
     * The updated value cache, one per layer.
     *
     * @return the values, or null without a cache
     */
    public List<Value> presentValues() {
        return presentValues;
    }
}
