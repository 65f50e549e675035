package org.peft4j.quant;

import java.util.Arrays;

/**
 * The 8-bit dynamic quantization maps of bitsandbytes ({@code create_dynamic_map(signed, max_exponent_bits=7,
 * total_bits=8)} in {@code bitsandbytes/functional.py}), bit-exact: the signed map (256 sorted values in
 * [-0.9929688, 1], used for double-quantized 4-bit absmax and the first moment of 8-bit optimizers) and the unsigned
 * map (256 sorted values in [0, 1], used for the second moment).
 *
 * <p>Construction, as bitsandbytes does it in float32: for {@code i = 0..6}, {@code b = torch.linspace(0.1, 1, k)}
 * with {@code k = 2^i + 1} (signed) or {@code 2^(i+1) + 1} (unsigned) points, the means {@code (b[j] + b[j+1]) / 2}
 * scaled by {@code (float) 10^(i-6)} (and their negatives when signed), plus 0 and 1, sorted. torch's CPU linspace
 * computes {@code start + step * j} for the first half and {@code end - step * (k - 1 - j)} for the second half with
 * one rounding (a fused multiply-add), which is what {@link #linspace} reproduces.
 *
 * <p>Stateless; thread-safe. Each call returns a fresh array.
 */
public final class DynamicMap {
    /** Number of entries of an 8-bit map. */
    public static final int SIZE = 256;

    private static final int MAX_EXPONENT_BITS = 7;
    private static final int TOTAL_BITS = 8;

    private DynamicMap() {
    }

    /**
     * bitsandbytes' {@code create_dynamic_map(signed, 7, 8)}: 256 sorted float32 values.
     *
     * @param signed true for the signed map (the default in bitsandbytes), false for the unsigned one
     * @return a new array of 256 values
     */
    public static float[] create(boolean signed) {
        int nonSignBits = TOTAL_BITS - 1;
        int additionalItems = (1 << (nonSignBits - MAX_EXPONENT_BITS)) - 1; // 0 for (7, 8)
        float[] data = new float[SIZE];
        int n = 0;
        int lastI = 0;
        for (int i = 0; i < MAX_EXPONENT_BITS; i++) {
            int fractionItems = signed ? (1 << (i + nonSignBits - MAX_EXPONENT_BITS)) + 1
                    : (1 << (i + nonSignBits - MAX_EXPONENT_BITS + 1)) + 1;
            n = addMeans(data, n, fractionItems, i, signed);
            lastI = i;
        }
        if (additionalItems > 0) {
            n = addMeans(data, n, additionalItems + 1, lastI, signed);
        }
        data[n++] = 0f;
        data[n++] = 1.0f;
        if (n != SIZE) {
            throw new AssertionError("dynamic map has " + n + " entries");
        }
        Arrays.sort(data);
        return data;
    }

    private static int addMeans(float[] data, int n, int points, int i, boolean signed) {
        float[] b = linspace(0.1f, 1.0f, points);
        // Python scalar 10 ** (i - 6), cast to float32 by torch's multiply with a float32 tensor
        float scale = (float) (i - (MAX_EXPONENT_BITS - 1) >= 0 ? Math.pow(10, i - (MAX_EXPONENT_BITS - 1))
                : 1.0 / Math.pow(10, (MAX_EXPONENT_BITS - 1) - i));
        float[] means = new float[points - 1];
        for (int j = 0; j < points - 1; j++) {
            means[j] = (b[j] + b[j + 1]) / 2.0f;
        }
        for (float m : means) {
            data[n++] = scale * m;
        }
        if (signed) {
            for (float m : means) {
                data[n++] = -scale * m;
            }
        }
        return n;
    }

    /** torch's CPU {@code linspace(start, end, steps)} in float32 (steps >= 2). */
    static float[] linspace(float start, float end, int steps) {
        float step = (end - start) / (float) (steps - 1);
        int halfway = steps / 2;
        float[] out = new float[steps];
        for (int j = 0; j < steps; j++) {
            out[j] = j < halfway ? Math.fma(step, (float) j, start) : Math.fma(-step, (float) (steps - 1 - j), end);
        }
        return out;
    }
}
