package org.peft4j.qlora;

import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * A {@link Linear4bit} that replaced GPT-2's {@code Conv1D} (transformers' {@code source_cls = Conv1D}): a float
 * checkpoint stores the weight [in, out], so it is transposed to [out, in] before it is quantized; a 4-bit checkpoint
 * already holds the [out, in] orientation and loads as for any {@link Linear4bit}.
 */
final class Conv1DLinear4bit extends Linear4bit {
    Conv1DLinear4bit(long inFeatures, long outFeatures, boolean bias, QuantType quantType, int blocksize,
            boolean compressStatistics, DType computeDtype, DType dtype) {
        super(inFeatures, outFeatures, bias, quantType, blocksize, compressStatistics, computeDtype, dtype);
    }

    @Override
    protected Set<String> loadOwnState(String prefix, Map<String, Tensor> entries) {
        Tensor w = entries.get("weight");
        if (w == null || !w.dtype().isFloating() || Bnb4bitStateDict.isPacked(entries)) {
            return super.loadOwnState(prefix, entries);
        }
        long[] expected = {inFeatures(), outFeatures()};
        if (!Arrays.equals(w.shape(), expected)) {
            throw new IllegalArgumentException(prefix + "weight: expected a Conv1D float weight " + Arrays.toString(
                    expected) + " ([in, out]) to quantize, got " + w.dtype() + " " + Arrays.toString(w.shape()));
        }
        int in = Math.toIntExact(inFeatures());
        int out = Math.toIntExact(outFeatures());
        float[] v = w.toFloatArray();
        float[] t = new float[v.length];
        for (int i = 0; i < in; i++) {
            for (int o = 0; o < out; o++) {
                t[o * in + i] = v[i * out + o];
            }
        }
        Bnb4bitLoading.quantizeInto(this, prefix + "weight", Tensor.of(t, out, in).to(w.dtype()));
        return Set.of("weight");
    }
}
