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

    public CausalLMOutput(Value logits, Value hiddenStates, List<Value> presentKeys, List<Value> presentValues) {
        this.logits = logits;
        this.hiddenStates = hiddenStates;
        this.presentKeys = presentKeys == null ? List.of() : Collections.unmodifiableList(presentKeys);
        this.presentValues = presentValues == null ? List.of() : Collections.unmodifiableList(presentValues);
    }

    public Value logits() {
        return logits;
    }

    /** The final hidden states (after the last norm), [batch, seq, hidden]. */
    public Value hiddenStates() {
        return hiddenStates;
    }

    public List<Value> presentKeys() {
        return presentKeys;
    }

    public List<Value> presentValues() {
        return presentValues;
    }
}
