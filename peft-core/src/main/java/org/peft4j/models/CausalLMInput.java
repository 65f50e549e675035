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

    /**
     * The input of a decoder forward.
     *
     * @param inputIds the token ids, int64 {@code [batch, seq]}
     */
    public CausalLMInput(Value inputIds) {
        this.inputIds = inputIds;
    }

    /**
     * The input of a decoder forward.
     *
     * @param inputIds the token ids, int64 {@code [batch, seq]}
     * @return a new input with no mask, positions or cache
     */
    public static CausalLMInput of(Value inputIds) {
        return new CausalLMInput(inputIds);
    }

    /**
     * Sets the attention mask (transformers' {@code attention_mask}).
     *
     * @param mask int64 {@code [batch, past + seq]}: 1 for a token to attend to, 0 for padding; null for all ones
     * @return this input
     */
    public CausalLMInput attentionMask(Value mask) {
        this.attentionMask = mask;
        return this;
    }

    /**
     * Sets the position ids (transformers' {@code position_ids}).
     *
     * @param positions int64 {@code [batch, seq]}; null for {@code past .. past + seq - 1}
     * @return this input
     */
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

    /**
     * Sets embeddings prepended to the token embeddings (prompt learning's virtual tokens).
     *
     * @param embeds {@code [batch, virtual, hidden]} of the model's dtype, or null
     * @return this input
     */
    public CausalLMInput prefixEmbeds(Value embeds) {
        this.prefixEmbeds = embeds;
        return this;
    }

    /**
     * The token ids.
     *
     * @return int64 {@code [batch, seq]}
     */
    public Value inputIds() {
        return inputIds;
    }

    /**
     * The attention mask.
     *
     * @return int64 {@code [batch, past + seq]}, or null for all ones
     */
    public Value attentionMask() {
        return attentionMask;
    }

    /**
     * The position ids.
     *
     * @return int64 {@code [batch, seq]}, or null for the default positions
     */
    public Value positionIds() {
        return positionIds;
    }

    /**
     * The past keys, one per layer.
     *
     * @return an unmodifiable list, or null without a cache
     */
    public List<Value> pastKeys() {
        return pastKeys == null ? null : Collections.unmodifiableList(pastKeys);
    }

    /**
     * The past values, one per layer.
     *
     * @return an unmodifiable list, or null without a cache
     */
    public List<Value> pastValues() {
        return pastValues == null ? null : Collections.unmodifiableList(pastValues);
    }

    /**
     * Whether the forward returns the present keys and values.
     *
     * @return the flag
     */
    public boolean useCache() {
        return useCache;
    }

    /**
     * Embeddings prepended to the token embeddings.
     *
     * @return {@code [batch, virtual, hidden]}, or null
     */
    public Value prefixEmbeds() {
        return prefixEmbeds;
    }
}
