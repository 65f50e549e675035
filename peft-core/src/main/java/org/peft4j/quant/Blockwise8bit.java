package org.peft4j.quant;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;
import java.util.stream.IntStream;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * Block-wise 8-bit quantization, bit-exact with bitsandbytes 0.50.2's {@code quantize_blockwise} /
 * {@code dequantize_blockwise} on the CPU (the native {@code quantize_cpu} / {@code dequantizeBlockwise8bitCpu} of
 * {@code csrc/cpu_ops.cpp}, which the CPU backend calls whenever the native library is loaded).
 *
 * <p>Per block of {@code blocksize} consecutive elements (the last block may be shorter): {@code absmax = max|x|}
 * (float32); an all-zero block stores absmax 0 and codes 0; otherwise {@code y = x * (1f / absmax)} and the code is
 * found <em>through a 65,536-entry lookup table</em>, not by nearest value: {@code y} is clamped to [-1, 1], mapped to
 * the bin {@code (int) ((y + 1) * 0.5 * 65535 + 0.5)}, and the table gives, for bin {@code i} with value
 * {@code v_i = -1 + 2i / 65535}, the number of midpoints {@code 0.5 * (code[k] + code[k+1])} that are {@code < v_i}.
 * About 0.2% of values land on a neighbour of their nearest code (those close to a midpoint). Unlike the 4-bit
 * quantizer the last, partial block also multiplies by the reciprocal. NaN inputs are not checked (they get code 0).
 *
 * <p>Dequantization: {@code x = code[c] * absmax[block]} in float32.
 *
 * <p>The array methods work on slices ({@code off}, {@code n}) without copying, so an optimizer can quantize part of
 * a larger state; absmax slot {@code absmaxOff + b} belongs to the block starting at {@code off + b * blocksize}.
 * Large inputs are split by blocks over the common fork-join pool.
 *
 * <p>Stateless and thread-safe: the lookup tables are built per code map and kept in a small immutable cache.
 */
public final class Blockwise8bit {
    /** Number of bins of bitsandbytes' lookup table ({@code kLUTSize}). */
    static final int LUT_SIZE = 65536;
    /** Elements from which work is split across threads. */
    private static final int PARALLEL_THRESHOLD = 1 << 16;
    private static final int CACHE_SLOTS = 4;

    private static final Object CACHE_LOCK = new Object();
    private static final float[][] CACHED_CODES = new float[CACHE_SLOTS][];
    private static final byte[][] CACHED_LUTS = new byte[CACHE_SLOTS][];
    private static int nextSlot;

    private Blockwise8bit() {
    }

    /** The result of {@link #quantize(Tensor, float[], int)}: uint8 codes (input's shape) and float32 absmax. */
    public record Quantized(Tensor codes, Tensor absmax) {
    }

    /**
     * Quantizes {@code src[off, off+n)} block-wise.
     *
     * @param src values to quantize
     * @param off first element
     * @param n number of elements
     * @param code the 256-entry sorted code map (e.g. {@link DynamicMap#create(boolean)})
     * @param blocksize elements per block (positive)
     * @param outCodes receives n codes from {@code codesOff}
     * @param codesOff first code slot
     * @param outAbsmax receives {@code ceil(n / blocksize)} scales from {@code absmaxOff}
     * @param absmaxOff first absmax slot
     * @throws IllegalArgumentException for a non-positive blocksize or a code map that is not 256 long
     */
    public static void quantize(float[] src, int off, int n, float[] code, int blocksize, byte[] outCodes,
            int codesOff, float[] outAbsmax, int absmaxOff) {
        checkArgs(code, blocksize, n);
        Objects.checkFromIndexSize(off, n, src.length);
        Objects.checkFromIndexSize(codesOff, n, outCodes.length);
        int nb = numBlocks(n, blocksize);
        Objects.checkFromIndexSize(absmaxOff, nb, outAbsmax.length);
        byte[] lut = lookupTable(code);
        forBlocks(n, nb, b -> quantizeBlock(src, off, n, lut, blocksize, outCodes, codesOff, outAbsmax, absmaxOff, b));
    }

    /**
     * Dequantizes n codes: {@code out[outOff + i] = code[codes[codesOff + i]] * absmax[absmaxOff + i / blocksize]}.
     *
     * @throws IllegalArgumentException for a non-positive blocksize or a code map that is not 256 long
     */
    public static void dequantize(byte[] codes, int codesOff, int n, float[] code, float[] absmax, int absmaxOff,
            int blocksize, float[] out, int outOff) {
        checkArgs(code, blocksize, n);
        Objects.checkFromIndexSize(codesOff, n, codes.length);
        Objects.checkFromIndexSize(outOff, n, out.length);
        int nb = numBlocks(n, blocksize);
        Objects.checkFromIndexSize(absmaxOff, nb, absmax.length);
        forBlocks(n, nb, b -> {
            int start = b * blocksize;
            int end = Math.min(start + blocksize, n);
            float scale = absmax[absmaxOff + b];
            for (int i = start; i < end; i++) {
                out[outOff + i] = code[codes[codesOff + i] & 0xFF] * scale;
            }
        });
    }

    /**
     * {@code quantize_blockwise(A, code, blocksize=blocksize)} on a float32, float16 or bfloat16 tensor (half
     * values are widened exactly).
     *
     * @return uint8 codes with the input's shape and float32 absmax {@code [ceil(numel / blocksize)]}
     * @throws IllegalArgumentException for another dtype (bitsandbytes' message) or a bad blocksize
     */
    public static Quantized quantize(Tensor a, float[] code, int blocksize) {
        if (a.dtype() != DType.F32 && a.dtype() != DType.F16 && a.dtype() != DType.BF16) {
            throw new IllegalArgumentException(
                    "Blockwise quantization only supports 16/32-bit floats, but got " + a.dtype());
        }
        float[] x = a.toFloatArray();
        int n = x.length;
        checkArgs(code, blocksize, n);
        byte[] codes = new byte[n];
        float[] absmax = new float[numBlocks(n, blocksize)];
        quantize(x, 0, n, code, blocksize, codes, 0, absmax, 0);
        ByteBuffer cb = ByteBuffer.allocateDirect(n).order(ByteOrder.LITTLE_ENDIAN);
        cb.put(codes).flip();
        return new Quantized(Tensor.wrap(DType.U8, a.shape(), cb), Tensor.of(absmax, absmax.length));
    }

    /**
     * {@code dequantize_blockwise(codes, absmax=absmax, code=code, blocksize=blocksize, dtype)}: float32 products
     * rounded to nearest even for float16 / bfloat16.
     *
     * @param codes uint8 codes
     * @param absmax float32 scales, {@code ceil(numel / blocksize)} of them
     * @param dtype F32, F16 or BF16
     */
    public static Tensor dequantize(Tensor codes, Tensor absmax, float[] code, int blocksize, DType dtype) {
        if (codes.dtype() != DType.U8) {
            throw new IllegalArgumentException("codes must be uint8, got " + codes.dtype());
        }
        int n = Math.toIntExact(codes.numel());
        byte[] c = new byte[n];
        codes.data().get(c);
        float[] am = absmax.toFloatArray();
        float[] out = new float[n];
        dequantize(c, 0, n, code, am, 0, blocksize, out, 0);
        Tensor f = Tensor.of(out, codes.shape());
        return dtype == DType.F32 ? f : f.to(dtype);
    }

    /** {@code ceil(n / blocksize)}. */
    public static int numBlocks(int n, int blocksize) {
        return (int) (((long) n + blocksize - 1) / blocksize);
    }

    private static void checkArgs(float[] code, int blocksize, int n) {
        if (blocksize <= 0) {
            throw new IllegalArgumentException("blocksize must be positive, got " + blocksize);
        }
        if (code.length != DynamicMap.SIZE) {
            throw new IllegalArgumentException("code map must have 256 entries, got " + code.length);
        }
        if (n < 0) {
            throw new IllegalArgumentException("negative element count " + n);
        }
    }

    private static void forBlocks(int n, int nb, java.util.function.IntConsumer body) {
        if (n >= PARALLEL_THRESHOLD && nb > 1) {
            IntStream.range(0, nb).parallel().forEach(body);
        } else {
            for (int b = 0; b < nb; b++) {
                body.accept(b);
            }
        }
    }

    private static void quantizeBlock(float[] src, int off, int n, byte[] lut, int blocksize, byte[] outCodes,
            int codesOff, float[] outAbsmax, int absmaxOff, int b) {
        int start = b * blocksize;
        int end = Math.min(start + blocksize, n);
        float m = 0f;
        for (int i = start; i < end; i++) {
            m = Math.max(m, Math.abs(src[off + i]));
        }
        outAbsmax[absmaxOff + b] = m;
        if (m == 0f) {
            Arrays.fill(outCodes, codesOff + start, codesOff + end, (byte) 0);
            return;
        }
        float inv = 1.0f / m;
        for (int i = start; i < end; i++) {
            outCodes[codesOff + i] = lut[lutIndex(src[off + i] * inv)];
        }
    }

    /** bitsandbytes' {@code norm_to_lut_index}: clamp to [-1, 1], then the nearest of 65,536 bins. */
    static int lutIndex(float v) {
        float c = v < -1.0f ? -1.0f : (v > 1.0f ? 1.0f : v);
        return (int) ((c + 1.0f) * 0.5f * (float) (LUT_SIZE - 1) + 0.5f);
    }

    /** bitsandbytes' {@code build_quantize_lut}: bin -> code index. */
    static byte[] buildLookupTable(float[] code) {
        float[] mid = new float[DynamicMap.SIZE - 1];
        for (int i = 0; i < mid.length; i++) {
            mid[i] = 0.5f * (code[i] + code[i + 1]);
        }
        byte[] lut = new byte[LUT_SIZE];
        int idx = 0;
        for (int i = 0; i < LUT_SIZE; i++) {
            float val = -1.0f + (2.0f * i) / (float) (LUT_SIZE - 1);
            while (idx < DynamicMap.SIZE - 1 && mid[idx] < val) {
                idx++;
            }
            lut[i] = (byte) idx;
        }
        return lut;
    }

    private static byte[] lookupTable(float[] code) {
        synchronized (CACHE_LOCK) {
            for (int s = 0; s < CACHE_SLOTS; s++) {
                if (CACHED_CODES[s] != null && Arrays.equals(CACHED_CODES[s], code)) {
                    return CACHED_LUTS[s];
                }
            }
            byte[] lut = buildLookupTable(code);
            CACHED_CODES[nextSlot] = code.clone();
            CACHED_LUTS[nextSlot] = lut;
            nextSlot = (nextSlot + 1) % CACHE_SLOTS;
            return lut;
        }
    }
}
