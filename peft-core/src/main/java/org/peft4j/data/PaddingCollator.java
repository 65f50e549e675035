package org.peft4j.data;

import java.util.List;
import org.peft4j.tensor.Tensor;

/**
 * Pads tokenised examples to the longest in the batch: {@code input_ids} with the pad id, {@code labels} with
 * {@link SftTokenizer#IGNORE_INDEX}, {@code attention_mask} 1 on tokens and 0 on padding; all int64
 * {@code [batch, maxLen]}. With {@code padToMultipleOf} (transformers' {@code pad_to_multiple_of}), the length is
 * rounded up to a multiple of it (e.g. 8 for tensor cores).
 */
public final class PaddingCollator {
    /** Where padding goes. */
    public enum Side {
        /** After the tokens (the default, for training). */
        RIGHT,
        /** Before the tokens (for generation). */
        LEFT
    }

    private final long padId;
    private final Side side;
    private final int padToMultipleOf;

    /** Pads with {@code padId} on {@code side} to the longest example. */
    public PaddingCollator(long padId, Side side) {
        this(padId, side, 1);
    }

    /**
     * Pads with {@code padId} on {@code side} to the longest example's length rounded up to a multiple of
     * {@code padToMultipleOf} (1: no rounding).
     */
    public PaddingCollator(long padId, Side side, int padToMultipleOf) {
        if (padToMultipleOf <= 0) {
            throw new IllegalArgumentException("padToMultipleOf must be positive, got " + padToMultipleOf);
        }
        this.padId = padId;
        this.side = java.util.Objects.requireNonNull(side, "side");
        this.padToMultipleOf = padToMultipleOf;
    }

    /** This collator, padding to a multiple of {@code multiple}. */
    public PaddingCollator withPadToMultipleOf(int multiple) {
        return new PaddingCollator(padId, side, multiple);
    }

    /** The multiple the padded length is rounded up to (1: none). */
    public int padToMultipleOf() {
        return padToMultipleOf;
    }

    /** Pads on the right with the tokenizer's pad id, or its eos id when it has no pad token. */
    public static PaddingCollator forTokenizer(Tokenizer tokenizer) {
        Long pad = tokenizer.padTokenId() != null ? tokenizer.padTokenId() : tokenizer.eosTokenId();
        if (pad == null) {
            throw new IllegalArgumentException("the tokenizer has neither a pad nor an eos token; give a pad id");
        }
        return new PaddingCollator(pad, Side.RIGHT);
    }

    /** Pads {@code examples} into one batch. */
    public Batch collate(List<TokenizedExample> examples) {
        if (examples.isEmpty()) {
            throw new IllegalArgumentException("cannot collate an empty batch");
        }
        int b = examples.size();
        int longest = examples.stream().mapToInt(TokenizedExample::length).max().orElse(0);
        int len = (longest + padToMultipleOf - 1) / padToMultipleOf * padToMultipleOf;
        long[] ids = new long[b * len];
        long[] mask = new long[b * len];
        long[] labels = new long[b * len];
        for (int r = 0; r < b; r++) {
            TokenizedExample e = examples.get(r);
            int offset = side == Side.RIGHT ? 0 : len - e.length();
            for (int j = 0; j < len; j++) {
                int i = j - offset;
                int at = r * len + j;
                boolean token = i >= 0 && i < e.length();
                ids[at] = token ? e.inputIds()[i] : padId;
                mask[at] = token ? 1 : 0;
                labels[at] = token ? e.labels()[i] : SftTokenizer.IGNORE_INDEX;
            }
        }
        return new Batch(Tensor.of(ids, b, len), Tensor.of(mask, b, len), Tensor.of(labels, b, len));
    }
}
