package org.peft4j.train;

import java.util.List;
import org.peft4j.data.Batch;
import java.util.Map;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Shape;
import org.peft4j.graph.Value;
import org.peft4j.tensor.DType;

/**
 * Causal-LM cross entropy as transformers computes it: logits at position t predict the label at t + 1, labels equal
 * to {@link Batch#IGNORE_INDEX} are not counted, and the loss is the mean over the counted tokens. Built from
 * LogSoftmax, GatherElements and reductions, all of which have gradient rules in standard ONNX.
 */
public final class CausalLMLoss {
    private CausalLMLoss() {
    }

    /**
     * The mean loss, a rank-0 value of the logits' dtype.
     *
     * @param logits [batch, seq, vocab]
     * @param labels int64 [batch, seq]
     */
    public static Value build(Graph g, Value logits, Value labels) {
        return build(g, logits, labels, null);
    }

    /**
     * The mean loss when the position before the first label is known: {@code lossLogits} [batch, 1 + seq, vocab]
     * start one position earlier than the labels, so every label is a target (as PEFT's prompt learning computes it
     * over the virtual tokens' positions, labelled -100, and the real ones).
     *
     * @param lossLogits logits from the position before the first label, or null (then {@code logits} are used and
     *     the first label is not a target)
     */
    public static Value build(Graph g, Value logits, Value labels, Value lossLogits) {
        if (labels.dtype() != DType.I64) {
            throw new IllegalArgumentException("labels must be int64, got " + labels);
        }
        Value shiftLogits = g.slice(logits, new long[] {0}, new long[] {-1}, new long[] {1});
        Value shiftLabels = g.slice(labels, new long[] {1}, new long[] {Long.MAX_VALUE}, new long[] {1});
        if (lossLogits != null) {
            shiftLogits = g.slice(lossLogits, new long[] {0}, new long[] {-1}, new long[] {1});
            shiftLabels = labels;
        }
        Value counted = g.not(g.equal(shiftLabels, g.intScalar(Batch.IGNORE_INDEX)));
        Value safeLabels = g.where(counted, shiftLabels, g.intScalar(0));
        Value logp = g.logSoftmax(shiftLogits, -1);
        Value idx = g.unsqueeze(safeLabels, -1);
        Shape picked = shiftLabels.shape().append(Dim.of(1));
        Value logpAt = g.node("GatherElements", "", List.of(logp, idx), List.of(logp.dtype()), List.of(picked),
                Map.of("axis", -1L)).output(0);
        Value weight = g.cast(counted, logits.dtype());
        Value nll = g.neg(g.mul(g.squeeze(logpAt, -1), weight));
        Value total = g.reduceSum(nll, false, 0, 1);
        Value count = g.reduceSum(weight, false, 0, 1);
        return g.div(total, count);
    }
}
