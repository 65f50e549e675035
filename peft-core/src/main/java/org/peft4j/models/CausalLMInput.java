package org.peft4j.models;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.peft4j.graph.Value;

/**
 * The graph values a causal LM's forward reads. Only {@code inputIds} is required.
 *
 * <ul>
 *   <li>{@code attentionMask}: int64 [batch, past + seq], 1 for tokens to attend to, 0 for padding;</li>
 *   <li>{@code positionIds}: int64 [batch or 1, seq]; by default {@code past .. past + seq - 1};</li>
 *   <li>{@code pastKeys}/{@code pastValues}: per layer [batch, kv_heads, past, head_dim], for incremental
 *       decoding; when given, the output carries the present keys and values;</li>
 *   <li>{@code prefixEmbeds}: [batch, n, hidden] embeddings prepended to the token embeddings (prompt tuning and
 *       P-tuning); the attention mask then covers them too.</li>
 * </ul>
 */
public final class CausalLMInput {
    private final Value inputIds;
    private Value attentionMask;
    private Value positionIds;
    private List<Value> pastKeys;
    private List<Value> pastValues;
    private boolean useCache;
    private Value prefixEmbeds;

    public CausalLMInput(Value inputIds) {
        this.inputIds = inputIds;
    }

    public static CausalLMInput of(Value inputIds) {
        return new CausalLMInput(inputIds);
    }

    public CausalLMInput attentionMask(Value mask) {
        this.attentionMask = mask;
        return this;
    }

    public CausalLMInput positionIds(Value positions) {
        this.positionIds = positions;
        return this;
    }

    /** Past keys and values, one per layer; also turns the cache outputs on. */
    public CausalLMInput past(List<Value> keys, List<Value> values) {
        this.pastKeys = new ArrayList<>(keys);
        this.pastValues = new ArrayList<>(values);
        this.useCache = true;
        return this;
    }

    /** Whether the forward should return present keys and values. */
    public CausalLMInput useCache(boolean useCache) {
        this.useCache = useCache;
        return this;
    }

    public CausalLMInput prefixEmbeds(Value embeds) {
        this.prefixEmbeds = embeds;
        return this;
    }

    public Value inputIds() {
        return inputIds;
    }

    public Value attentionMask() {
        return attentionMask;
    }

    public Value positionIds() {
        return positionIds;
    }

    public List<Value> pastKeys() {
        return pastKeys == null ? null : Collections.unmodifiableList(pastKeys);
    }

    public List<Value> pastValues() {
        return pastValues == null ? null : Collections.unmodifiableList(pastValues);
    }

    public boolean useCache() {
        return useCache;
    }

    public Value prefixEmbeds() {
        return prefixEmbeds;
    }
}
