package org.peft4j.testutil;

/**
 * The reproducible Gaussian of interop/make_quant_fixtures.py ({@code gaussian(seed, n)}): splitmix64 doubles,
 * Box-Muller in float64 ({@code u1 = (z >>> 11) + 1) * 2^-53}, {@code u2 = (z >>> 11) * 2^-53},
 * {@code r = sqrt(-2 ln u1)}, {@code r cos(2 pi u2)}, {@code r sin(2 pi u2)}), each rounded to float32. Python's
 * math module and {@link StrictMath} agree to well within the float32 rounding; the fixtures store a
 * {@link #checksum} of the values so a divergence shows as such.
 */
public final class TestGaussian {
    private TestGaussian() {
    }

    /** {@code n} standard normal float32 values from {@code seed}. */
    public static float[] gaussian(long seed, int n) {
        long state = seed;
        float[] out = new float[n];
        int k = 0;
        while (k < n) {
            state += 0x9E3779B97F4A7C15L;
            long z1 = mix(state);
            state += 0x9E3779B97F4A7C15L;
            long z2 = mix(state);
            double u1 = ((z1 >>> 11) + 1) * 0x1.0p-53;
            double u2 = (z2 >>> 11) * 0x1.0p-53;
            double r = StrictMath.sqrt(-2.0 * StrictMath.log(u1));
            double t = 2.0 * Math.PI * u2;
            out[k++] = (float) (r * StrictMath.cos(t));
            if (k < n) {
                out[k++] = (float) (r * StrictMath.sin(t));
            }
        }
        return out;
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Sum of the float32 bit patterns as unsigned ints, mod 2^64 ({@code checksum_f32} of the script). */
    public static long checksum(float[] x) {
        long s = 0;
        for (float v : x) {
            s += Float.floatToRawIntBits(v) & 0xFFFFFFFFL;
        }
        return s;
    }

    /** FNV-1a 64 of bytes ({@code fnv1a} of the script). */
    public static long fnv1a(byte[] data) {
        long h = 0xCBF29CE484222325L;
        for (byte b : data) {
            h ^= b & 0xFF;
            h *= 0x100000001B3L;
        }
        return h;
    }
}
