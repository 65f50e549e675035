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

    public Tensor inputIds() {
        return inputIds;
    }

    public Tensor attentionMask() {
        return attentionMask;
    }

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
