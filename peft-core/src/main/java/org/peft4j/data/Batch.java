package org.peft4j.data;

import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * One training batch: int64 {@code input_ids}, {@code attention_mask} and {@code labels} ({@value #IGNORE_INDEX} =
 * not counted). Immutable as long as its tensors are not written.
 */
public final class Batch {
    /** Labels with this value do not count in the loss (prompt tokens, padding), as PyTorch's cross entropy. */
    public static final long IGNORE_INDEX = -100;

    private final Tensor inputIds;
    private final Tensor attentionMask;
    private final Tensor labels;

    /**
     * A batch of equal-length rows.
     *
     * @param inputIds int64 {@code [batch, seq]} token ids
     * @param attentionMask int64 {@code [batch, seq]}, 1 for a token and 0 for padding
     * @param labels int64 {@code [batch, seq]}, -100 where no loss is taken
     * @throws IllegalArgumentException if a tensor is not int64 of rank 2 or the shapes differ
     */
    public Batch(Tensor inputIds, Tensor attentionMask, Tensor labels) {
        check("input_ids", inputIds);
        check("attention_mask", attentionMask);
        check("labels", labels);
        if (!java.util.Arrays.equals(inputIds.shape(), labels.shape())
                || !java.util.Arrays.equals(inputIds.shape(), attentionMask.shape())) {
            throw new IllegalArgumentException("input_ids, attention_mask and labels must have one shape, got "
                    + inputIds + ", " + attentionMask + ", " + labels);
        }
        this.inputIds = inputIds;
        this.attentionMask = attentionMask;
        this.labels = labels;
    }

    private static void check(String name, Tensor t) {
        if (t.dtype() != DType.I64 || t.rank() != 2) {
            throw new IllegalArgumentException(name + " must be int64 [batch, seq], got " + t);
        }
    }

    /**
     * The token ids.
     *
     * @return int64 {@code [batch, seq]}
     */
    public Tensor inputIds() {
        return inputIds;
    }

    /**
     * The attention mask.
     *
     * @return int64 {@code [batch, seq]}: 1 for a token, 0 for padding
     */
    public Tensor attentionMask() {
        return attentionMask;
    }

    /**
     * The labels (transformers' {@code labels}).
     *
     * @return int64 {@code [batch, seq]}, -100 where no loss is taken
     */
    public Tensor labels() {
        return labels;
    }

    /** Number of label tokens that count in the loss (the causal shift drops the first position). */
    public long countedTokens() {
        long[] l = labels.toLongArray();
        long seq = labels.dim(1);
        long n = 0;
        for (int i = 0; i < l.length; i++) {
            if (i % seq != 0 && l[i] != IGNORE_INDEX) {
                n++;
            }
        }
        return n;
    }
}
