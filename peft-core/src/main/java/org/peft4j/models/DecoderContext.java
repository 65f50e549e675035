package org.peft4j.models;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;

/**
 * Per-forward values that every decoder layer reads: positions, the attention mask, rotary tables (for models that
 * use them) and the key/value cache, past and present.
 */
public final class DecoderContext {
    private final Value positions;
    private final Value allowed;
    private final List<Value> pastKeys;
    private final List<Value> pastValues;
    private final List<Value> presentKeys;
    private final List<Value> presentValues;
    private Value cos;
    private Value sin;
    private Value seqLen;
    private Value pastLen;
    private Value attentionMask;
    private boolean positionIdsGiven;
    private final Map<Long, Value> slidingAllowed = new HashMap<>();

    private DecoderContext(Value positions, Value allowed, CausalLMInput in) {
        this.positions = positions;
        this.allowed = allowed;
        this.attentionMask = in.attentionMask();
        this.pastKeys = in.pastKeys();
        this.pastValues = in.pastValues();
        this.presentKeys = in.useCache() ? new ArrayList<>() : null;
        this.presentValues = in.useCache() ? new ArrayList<>() : null;
    }

    /**
     * Prepares the context for hidden states {@code h} [B, T, hidden] (prefix embeddings included): positions
     * ({@code past .. past + T - 1} unless given) and which keys each query may attend to.
     */
    public static DecoderContext prepare(Graph g, CausalLMInput in, Value h) {
        Value seqLen = g.dimOf(h, 1);
        Value pastLen = in.pastKeys() != null ? g.dimOf(in.pastKeys().get(0), 2) : g.intScalar(0);
        Value positions = in.positionIds() != null ? in.positionIds()
                : AttentionOps.defaultPositions(g, seqLen, pastLen);
        Value allowed = AttentionOps.allowedMask(g, seqLen, pastLen, in.attentionMask());
        DecoderContext ctx = new DecoderContext(positions, allowed, in);
        ctx.seqLen = seqLen;
        ctx.pastLen = pastLen;
        ctx.positionIdsGiven = in.positionIds() != null;
        return ctx;
    }

    /** Position ids, int64 [B or 1, T]. */
    public Value positions() {
        return positions;
    }

    /** Bool [B or 1, 1, T, past + T]: which keys each query may attend to. */
    public Value allowed() {
        return allowed;
    }

    /**
     * Bool [B or 1, 1, T, past + T]: which keys each query may attend to in a sliding-window layer (the last
     * {@code slidingWindow} positions, see {@link AttentionOps#allowedMask(Graph, Value, Value, Value, long)}). Built
     * once per window and shared by the layers that use it.
     */
    public Value allowed(Graph g, long slidingWindow) {
        return slidingAllowed.computeIfAbsent(slidingWindow,
                w -> AttentionOps.allowedMask(g, seqLen, pastLen, attentionMask, w));
    }

    /** The attention mask, int64 [B, past + T] (prefix positions included, 1 = token), or null when none was given. */
    public Value attentionMask() {
        return attentionMask;
    }

    /** Rank-0 int64: the number of cached positions (0 without a cache). */
    public Value pastLength() {
        return pastLen;
    }

    /** Whether the caller gave position ids; otherwise {@link #positions()} are {@code past .. past + T - 1}. */
    public boolean positionIdsGiven() {
        return positionIdsGiven;
    }

    /**
     * Sets the rotary embedding tables shared by the layers.
     *
     * @param cos the cosines, {@code [batch, seq, rotary_dim]}
     * @param sin the sines, of the same shape
     */
    public void setRotary(Value cos, Value sin) {
        this.cos = cos;
        this.sin = sin;
    }

    /**
     * The rotary cosines shared by the layers.
     *
     * @return the cosines, or null for a model without rotary embeddings
     */
    public Value cos() {
        return cos;
    }

    /**
     * The rotary sines shared by the layers.
     *
     * @return the sines, or null for a model without rotary embeddings
     */
    public Value sin() {
        return sin;
    }

    /**
     * Prepends layer {@code layer}'s cached keys and values (when there is a cache) to the new ones [B, H, T, D] and
     * records the result as the layer's present cache (when the caller asked for it).
     *
     * @return {keys, values} over past + new positions
     */
    public Value[] withCache(Graph g, int layer, Value k, Value v) {
        if (pastKeys != null) {
            k = g.concat(2, pastKeys.get(layer), k);
            v = g.concat(2, pastValues.get(layer), v);
        }
        if (presentKeys != null) {
            presentKeys.add(k);
            presentValues.add(v);
        }
        return new Value[] {k, v};
    }

    List<Value> presentKeys() {
        return presentKeys;
    }

    List<Value> presentValues() {
        return presentValues;
    }
}
