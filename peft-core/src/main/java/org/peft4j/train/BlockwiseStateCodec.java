package org.peft4j.train;

/**
 * The rounding of bitsandbytes' 8-bit blockwise optimizer states on its portable path (the pure-torch
 * {@code quantize_blockwise} / {@code dequantize_blockwise} kernels that its CPU optimizer update calls; the CUDA
 * kernel also picks the nearest code): blocks of 256 elements, absmax per block, the value scaled into [-1, 1] and
 * mapped to the nearest entry of a sorted 256-entry map, a value exactly between two entries to the lower one.
 *
 * <p>Full blocks multiply by the reciprocal of their absmax ({@code 1 / max(absmax, 1e-38)}) and store the absmax
 * as found (0 for an all-zero block); the last partial block divides by {@code max(absmax, 1e-38)} and stores that.
 */
final class BlockwiseStateCodec {
    static final int BLOCKSIZE = 256;
    private static final float TINY = (float) 1e-38;

    private final float[] code;
    private final float[] bounds;

    BlockwiseStateCodec(float[] code) {
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
