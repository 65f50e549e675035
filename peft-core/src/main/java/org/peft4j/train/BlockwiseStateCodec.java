package org.peft4j.train;

import org.peft4j.quant.Blockwise8bit;

/**
 * The blockwise 8-bit storage of bitsandbytes' optimizer states (blocks of 256 elements, a float32 absmax each):
 * decoding is {@code code[q] * absmax} in float32; encoding rounds as {@link BnbAdamW.StateRounding} says.
 *
 * <p>{@link BnbAdamW.StateRounding#NEAREST} is the portable (pure-torch) {@code quantize_blockwise}: full blocks
 * multiply by the reciprocal of their absmax ({@code 1 / max(absmax, 1e-38)}) and store the absmax as found (0 for
 * an all-zero block); the last partial block divides by {@code max(absmax, 1e-38)} and stores that; the value,
 * clamped to [-1, 1], takes the nearest entry of the sorted map (one exactly between two entries the lower).
 * {@link BnbAdamW.StateRounding#LOOKUP_TABLE} is the native CPU kernel, {@link Blockwise8bit#quantize}.
 */
final class BlockwiseStateCodec {
    static final int BLOCKSIZE = 256;
    private static final float TINY = (float) 1e-38;

    private final float[] code;
    private final float[] bounds;
    private final boolean lookupTable;

    BlockwiseStateCodec(float[] code, boolean lookupTable) {
        this.lookupTable = lookupTable;
        if (code.length != 256) {
            throw new IllegalArgumentException("a blockwise 8-bit map has 256 entries, got " + code.length);
        }
        this.code = code.clone();
        this.bounds = new float[255];
        for (int i = 0; i < 255; i++) {
            if (!(code[i] <= code[i + 1])) {
                throw new IllegalArgumentException("the map must be sorted");
            }
            bounds[i] = (code[i] + code[i + 1]) / 2f;
        }
    }

    static int blocks(int n) {
        return (n + BLOCKSIZE - 1) / BLOCKSIZE;
    }

    /** {@code out[i] = code[q[i]] * absmax[i / 256]} in float32. */
    void decode(byte[] q, float[] absmax, float[] out, int n) {
        for (int i = 0; i < n; i++) {
            out[i] = code[q[i] & 0xFF] * absmax[i / BLOCKSIZE];
        }
    }

    /** Quantizes {@code x[0..n)} into {@code q} and {@code absmax}. */
    void encode(float[] x, int n, byte[] q, float[] absmax) {
        if (lookupTable) {
            Blockwise8bit.quantize(x, 0, n, code, BLOCKSIZE, q, 0, absmax, 0);
            return;
        }
        int full = n / BLOCKSIZE;
        for (int b = 0; b < full; b++) {
            int from = b * BLOCKSIZE;
            float am = absmax(x, from, from + BLOCKSIZE);
            absmax[b] = am;
            float inv = 1f / Math.max(am, TINY);
            for (int i = from; i < from + BLOCKSIZE; i++) {
                q[i] = (byte) nearest(clamp(x[i] * inv));
            }
        }
        if (n % BLOCKSIZE != 0) {
            int from = full * BLOCKSIZE;
            float am = Math.max(absmax(x, from, n), TINY);
            absmax[full] = am;
            for (int i = from; i < n; i++) {
                q[i] = (byte) nearest(clamp(x[i] / am));
            }
        }
    }

    private static float absmax(float[] x, int from, int to) {
        float m = 0f;
        for (int i = from; i < to; i++) {
            m = Math.max(m, Math.abs(x[i]));
        }
        return m;
    }

    private static float clamp(float y) {
        return y < -1f ? -1f : (y > 1f ? 1f : y);
    }

    /** torch.bucketize(y, bounds, right=False): the number of bounds strictly below y. */
    private int nearest(float y) {
        int lo = 0;
        int hi = bounds.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (bounds[mid] < y) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }
}
