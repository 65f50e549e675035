package org.peft4j.qlora;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.util.List;
import java.util.stream.IntStream;
import org.peft4j.quant.Blockwise8bit;
import org.peft4j.quant.DynamicMap;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.HalfFloats;
import org.peft4j.tensor.Tensor;

/**
 * NF4 / FP4 block-wise quantization, bit-exact with bitsandbytes 0.50.2's {@code quantize_4bit} /
 * {@code dequantize_4bit} on their portable (pure torch, "default" backend) path.
 *
 * <p>Quantization: the tensor is flattened row-major and cut into blocks of {@code blocksize} consecutive elements
 * (blocks cross row boundaries). Per block {@code absmax = max|x|} in float32 (half inputs widened exactly). Full
 * blocks compute {@code y = x * (1f / max(absmax, 1e-38f))}; the trailing partial block divides,
 * {@code y = x / am} with {@code am = max(absmax, 1e-38f)}, and stores {@code am} as its absmax. {@code y} is
 * clamped to [-1, 1] and the code is the number of sorted-table midpoints {@code (a + b) / 2f} strictly below it
 * ({@code torch.bucketize}): nearest value, an exact tie going to the lower value; FP4 maps that sorted position back
 * to the bit pattern (so tiny positive values get nibble 8, whose value is +0). An all-zero full block gets absmax 0
 * and the code of 0.0. Codes are packed two per byte, the first element in the high nibble; an odd element count is
 * padded with the code of 0.0. With {@code compressStatistics} (double quantization) {@code offset} is the float32
 * mean of the absmax values as torch reduces it on one thread (see {@link #torchMean}), and {@code absmax - offset}
 * is quantized with {@link Blockwise8bit} (signed dynamic map, blocksize 256).
 *
 * <p>Dequantization: {@code w = code[nibble] * absmax[block]} in float32, then rounded to nearest even for float16 /
 * bfloat16; nested absmax is first de-nested as {@code (dyn[q] * nestedAbsmax[b / 256]) + offset}.
 *
 * <p>Work is split by blocks over the common fork-join pool and reads/writes the tensors' buffers in bulk. Stateless
 * and thread-safe.
 */
public final class Bnb4bit {
    /** The blocksizes bitsandbytes accepts for 4-bit quantization. */
    public static final List<Integer> BLOCKSIZES = List.of(32, 64, 128, 256, 512, 1024, 2048, 4096);
    /** Blocksize of the nested (double) quantization of absmax, hard-coded in bitsandbytes. */
    public static final int NESTED_BLOCKSIZE = 256;

    private static final float[] NF4 = {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
        -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f, 0.07958029955625534f,
        0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f, 0.44070982933044434f,
        0.5626170039176941f, 0.7229568362236023f, 1.0f};
    private static final float[] FP4;
    /** Per type: the midpoints of the sorted table, and the table index of each sorted position. */
    private static final float[] NF4_BOUNDS;
    private static final float[] FP4_BOUNDS;
    private static final byte[] NF4_ORDER = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    /** torch.argsort of the FP4 table (the order bitsandbytes uses; +0 at index 0 sorts before +0 at index 8). */
    private static final byte[] FP4_ORDER = {11, 10, 13, 12, 15, 14, 9, 0, 8, 1, 6, 7, 4, 5, 2, 3};
    /** Cells of the uniform grid over [-1, 1] that narrows each bucket search to one comparison. */
    private static final int GRID = 8192;
    private static final byte[] NF4_GRID;
    private static final byte[] FP4_GRID;
    /** Elements per parallel task (whole blocks). */
    private static final int CHUNK_ELEMENTS = 1 << 15;

    static {
        float[] raw = {0f, 0.0625f, 8f, 12f, 4f, 6f, 2f, 3f, 0f, -0.0625f, -8f, -12f, -4f, -6f, -2f, -3f};
        FP4 = new float[16];
        for (int i = 0; i < 16; i++) {
            FP4[i] = raw[i] / 12f;
        }
        NF4_BOUNDS = bounds(NF4, NF4_ORDER);
        FP4_BOUNDS = bounds(FP4, FP4_ORDER);
        NF4_GRID = grid(NF4_BOUNDS);
        FP4_GRID = grid(FP4_BOUNDS);
    }

    /** The grid cell of y in [-1, 1]: monotone non-decreasing in y. */
    private static int cell(float y) {
        return Math.min(GRID - 1, (int) ((y + 1f) * (GRID / 2)));
    }

    /**
     * Per grid cell, the smallest number of bounds below any y of the cell; each cell holds at most one bound (the
     * closest bounds, FP4's around 0, are 0.0026 apart, the cells 0.00024 wide), so the count is that or one more.
     */
    private static byte[] grid(float[] bounds) {
        byte[] g = new byte[GRID];
        int prev = -1;
        for (int c = 0; c < GRID; c++) {
            // smallest float y in [-1, 1] with cell(y) >= c, by bisection over the ordered float bits
            float lo = -1f;
            float hi = 1f;
            if (cell(lo) >= c) {
                hi = lo;
            }
            while (lo != hi) {
                float mid = midpoint(lo, hi);
                if (cell(mid) >= c) {
                    hi = mid;
                } else {
                    lo = Math.nextUp(mid);
                }
            }
            g[c] = (byte) countBelow(hi, bounds);
            if (g[c] < prev) {
                throw new AssertionError("grid not monotone");
            }
            prev = g[c];
        }
        for (int c = 0; c + 1 < GRID; c++) {
            if (g[c + 1] - g[c] > 1) {
                throw new AssertionError("grid cell " + c + " holds two bounds");
            }
        }
        if (countBelow(1f, bounds) - g[GRID - 1] > 1) {
            throw new AssertionError("last grid cell holds two bounds");
        }
        return g;
    }

    private static float midpoint(float lo, float hi) {
        // midpoint in the order of float values (bits are ordered for same-sign floats; handle the sign change)
        double m = ((double) lo + (double) hi) / 2;
        float f = (float) m;
        if (f < lo) {
            f = lo;
        }
        if (f >= hi) {
            f = Math.nextDown(hi);
        }
        return f < lo ? lo : f;
    }

    private static int countBelow(float y, float[] bounds) {
        int k = 0;
        for (float b : bounds) {
            k += b < y ? 1 : 0;
        }
        return k;
    }

    private Bnb4bit() {
    }

    private static float[] bounds(float[] code, byte[] order) {
        float[] b = new float[15];
        for (int i = 0; i < 15; i++) {
            b[i] = (code[order[i]] + code[order[i + 1]]) / 2f;
        }
        return b;
    }

    /** bitsandbytes' {@code get_4bit_type(t)}: the 16 float32 values indexed by 4-bit code (a copy). */
    public static float[] codeTable(QuantType t) {
        return (t == QuantType.NF4 ? NF4 : FP4).clone();
    }

    /**
     * {@code quantize_4bit(w, blocksize=blocksize, compress_statistics=compressStatistics, quant_type=t)}.
     *
     * @param name the tensor's name, used in error messages
     * @param w a float32, float16 or bfloat16 tensor of any shape
     * @throws IllegalArgumentException for a blocksize bitsandbytes refuses ({@code "invalid blocksize N"}), another
     *     dtype, more than 2^31 - 1 elements, or an infinite or NaN element (naming the tensor)
     */
    public static Packed4bit quantize(String name, Tensor w, QuantType t, int blocksize, boolean compressStatistics) {
        checkBlocksize(blocksize);
        DType dt = w.dtype();
        if (dt != DType.F32 && dt != DType.F16 && dt != DType.BF16) {
            throw new IllegalArgumentException(
                    "Blockwise 4bit quantization only supports 16/32-bit floats, but got " + dt + " (tensor '" + name
                            + "')");
        }
        long numel = w.numel();
        if (numel > Integer.MAX_VALUE - 1) {
            throw new IllegalArgumentException("tensor '" + name + "' has " + numel + " elements; at most "
                    + (Integer.MAX_VALUE - 1) + " can be quantized");
        }
        int n = (int) numel;
        int nb = Blockwise8bit.numBlocks(n, blocksize);
        float[] absmax = new float[nb];
        byte[] packed = new byte[(n + 1) / 2];
        float[] bounds = t == QuantType.NF4 ? NF4_BOUNDS : FP4_BOUNDS;
        byte[] order = t == QuantType.NF4 ? NF4_ORDER : FP4_ORDER;
        ByteBuffer src = w.data();
        int blocksPerChunk = Math.max(1, CHUNK_ELEMENTS / blocksize);
        int chunks = (nb + blocksPerChunk - 1) / blocksPerChunk;
        int[] bad = {-1};
        parallel(chunks, n, c -> {
            int b0 = c * blocksPerChunk;
            int b1 = Math.min(nb, b0 + blocksPerChunk);
            int start = b0 * blocksize;
            int end = Math.min(n, b1 * blocksize);
            float[] x = new float[end - start];
            read(src, dt, start, x);
            for (int b = b0; b < b1; b++) {
                int s = b * blocksize - start;
                int e = Math.min(end, (b + 1) * blocksize) - start;
                if (!quantizeBlock(x, s, e, b, e - s < blocksize, absmax, bounds, order, packed, start)) {
                    synchronized (bad) {
                        bad[0] = bad[0] < 0 ? b : Math.min(bad[0], b);
                    }
                }
            }
        });
        if (bad[0] >= 0) {
            throw new IllegalArgumentException("tensor '" + name + "' contains inf or NaN (block " + bad[0]
                    + " of blocksize " + blocksize + "); it cannot be quantized to 4 bits");
        }
        if ((n & 1) == 1) {
            packed[n / 2] = (byte) ((packed[n / 2] & 0xF0) | bucket(0f, bounds, order));
        }
        ByteBuffer pb = ByteBuffer.allocateDirect(packed.length).order(ByteOrder.LITTLE_ENDIAN);
        pb.put(packed).flip();
        Tensor packedT = Tensor.wrap(DType.U8, new long[] {packed.length, 1}, pb);
        Tensor code = Tensor.of(codeTable(t), 16);
        QuantState st;
        if (compressStatistics) {
            float offset = torchMean(absmax);
            float[] centered = new float[nb];
            for (int i = 0; i < nb; i++) {
                centered[i] = absmax[i] - offset;
            }
            float[] dyn = DynamicMap.create(true);
            byte[] q = new byte[nb];
            float[] absmax2 = new float[Blockwise8bit.numBlocks(nb, NESTED_BLOCKSIZE)];
            Blockwise8bit.quantize(centered, 0, nb, dyn, NESTED_BLOCKSIZE, q, 0, absmax2, 0);
            ByteBuffer qb = ByteBuffer.allocateDirect(nb).order(ByteOrder.LITTLE_ENDIAN);
            qb.put(q).flip();
            st = new QuantState(t, blocksize, w.shape(), dt, Tensor.wrap(DType.U8, new long[] {nb}, qb), code,
                    new QuantState.Nested(offset, Tensor.of(absmax2, absmax2.length), Tensor.of(dyn, 256),
                            NESTED_BLOCKSIZE));
        } else {
            st = new QuantState(t, blocksize, w.shape(), dt, Tensor.of(absmax, nb), code, null);
        }
        return new Packed4bit(packedT, st);
    }

    /** Quantizes one block; false if its absmax is not finite. */
    private static boolean quantizeBlock(float[] x, int s, int e, int b, boolean partial, float[] absmax,
            float[] bounds, byte[] order, byte[] packed, int start) {
        float m = 0f;
        for (int i = s; i < e; i++) {
            m = Math.max(m, Math.abs(x[i]));
        }
        if (!Float.isFinite(m)) {
            return false;
        }
        float clamped = Math.max(m, 1e-38f);
        absmax[b] = partial ? clamped : m;
        float recip = 1.0f / clamped;
        byte[] grid = bounds == NF4_BOUNDS ? NF4_GRID : FP4_GRID;
        // s and the block's global start are even (every blocksize is even): whole bytes per block
        int p = (start + s) >> 1;
        if (!partial) {
            for (int i = s; i < e; i += 2, p++) {
                int hi = fastBucket(clamp(x[i] * recip), bounds, grid, order);
                int lo = fastBucket(clamp(x[i + 1] * recip), bounds, grid, order);
                packed[p] = (byte) ((hi << 4) | lo);
            }
        } else {
            for (int i = s; i < e; i += 2, p++) {
                int hi = fastBucket(clamp(x[i] / clamped), bounds, grid, order);
                int lo = i + 1 < e ? fastBucket(clamp(x[i + 1] / clamped), bounds, grid, order) : 0;
                packed[p] = (byte) ((hi << 4) | lo);
            }
        }
        return true;
    }

    private static float clamp(float y) {
        return y < -1f ? -1f : (y > 1f ? 1f : y);
    }

    /** {@link #bucket} through the grid: one comparison (y is already clamped to [-1, 1]). */
    private static int fastBucket(float y, float[] bounds, byte[] grid, byte[] order) {
        int k = grid[cell(y)];
        if (k < 15 && y > bounds[k]) {
            k++;
        }
        return order[k];
    }

    /** The number of bounds strictly below y (torch.bucketize, right=False), mapped through order. */
    static int bucket(float y, float[] bounds, byte[] order) {
        int idx = y > bounds[7] ? 8 : 0;
        if (y > bounds[idx + 3]) {
            idx += 4;
        }
        if (y > bounds[idx + 1]) {
            idx += 2;
        }
        if (y > bounds[idx]) {
            idx += 1;
        }
        return order[idx];
    }

    /**
     * {@code dequantize_4bit(packed, st)}: the weight in {@code st.dtype()} and {@code st.shape()}.
     *
     * @throws IllegalArgumentException if packed does not hold {@code (numel + 1) / 2} uint8 bytes
     */
    public static Tensor dequantize(Tensor packed, QuantState st) {
        return dequantize(packed, st, st.dtype());
    }

    /** {@code dequantize_4bit} with the products kept in float32 (what a float32 graph needs). */
    public static Tensor dequantizeF32(Tensor packed, QuantState st) {
        return dequantize(packed, st, DType.F32);
    }

    /**
     * The per-block float32 scales as bitsandbytes uses them: {@code absmax} itself, or for a double-quantized state
     * {@code (dyn[q] * nestedAbsmax[b / 256]) + offset} ({@code dequantize_blockwise} then {@code absmax += offset}).
     *
     * @return float32 {@code [ceil(numel / blocksize)]}
     */
    public static Tensor absmaxF32(QuantState st) {
        float[] a = absmaxArray(st);
        return Tensor.of(a, a.length);
    }

    static float[] absmaxArray(QuantState st) {
        long nb = st.numBlocks();
        if (st.absmax().numel() != nb) {
            throw new IllegalArgumentException("absmax has " + st.absmax().numel() + " values, the state needs " + nb);
        }
        if (!st.isNested()) {
            if (st.absmax().dtype() != DType.F32) {
                throw new IllegalArgumentException("absmax must be float32, got " + st.absmax().dtype());
            }
            return st.absmax().toFloatArray();
        }
        QuantState.Nested ns = st.nested();
        if (st.absmax().dtype() != DType.U8) {
            throw new IllegalArgumentException("nested absmax must be uint8, got " + st.absmax().dtype());
        }
        int n = (int) nb;
        byte[] q = new byte[n];
        st.absmax().data().get(q);
        float[] out = new float[n];
        Blockwise8bit.dequantize(q, 0, n, ns.code().toFloatArray(), ns.absmax().toFloatArray(), 0, ns.blocksize(),
                out, 0);
        float offset = ns.offset();
        for (int i = 0; i < n; i++) {
            out[i] += offset;
        }
        return out;
    }

    private static Tensor dequantize(Tensor packed, QuantState st, DType outType) {
        checkBlocksize(st.blocksize());
        if (outType != DType.F32 && outType != DType.F16 && outType != DType.BF16) {
            throw new IllegalArgumentException(
                    "Blockwise 4bit dequantization only supports 16/32-bit floats, but got " + outType);
        }
        long numel = st.numel();
        if (packed.dtype() != DType.U8 || packed.numel() != (numel + 1) / 2) {
            throw new IllegalArgumentException("packed weight must be uint8 with " + (numel + 1) / 2 + " bytes, got "
                    + packed);
        }
        int n = Math.toIntExact(numel);
        float[] absmax = absmaxArray(st);
        float[] code = st.code().toFloatArray();
        if (code.length != 16) {
            throw new IllegalArgumentException("4-bit code table must have 16 values, got " + code.length);
        }
        int bs = st.blocksize();
        int nb = absmax.length;
        ByteBuffer src = packed.data();
        ByteBuffer out = ByteBuffer.allocateDirect(Math.multiplyExact(n, outType.byteSize()))
                .order(ByteOrder.LITTLE_ENDIAN);
        FloatBuffer outF = outType == DType.F32 ? out.asFloatBuffer() : null;
        ShortBuffer outS = outType == DType.F32 ? null : out.asShortBuffer();
        int blocksPerChunk = Math.max(1, CHUNK_ELEMENTS / bs);
        int chunks = (nb + blocksPerChunk - 1) / blocksPerChunk;
        parallel(chunks, n, c -> {
            int start = c * blocksPerChunk * bs;
            int end = (int) Math.min(n, (long) (c + 1) * blocksPerChunk * bs);
            int len = end - start;
            byte[] bytes = new byte[(len + 1) / 2];
            src.get(start >> 1, bytes);
            float[] w = new float[len];
            for (int bStart = 0; bStart < len; bStart += bs) {
                float scale = absmax[(start + bStart) / bs];
                int bEnd = Math.min(len, bStart + bs);
                int i = bStart;
                for (; i + 1 < bEnd; i += 2) {
                    int v = bytes[i >> 1];
                    w[i] = code[(v >> 4) & 0xF] * scale;
                    w[i + 1] = code[v & 0xF] * scale;
                }
                if (i < bEnd) {
                    w[i] = code[(bytes[i >> 1] >> 4) & 0xF] * scale;
                }
            }
            if (outF != null) {
                outF.put(start, w);
            } else {
                short[] h = new short[len];
                boolean bf = outType == DType.BF16;
                for (int i = 0; i < len; i++) {
                    h[i] = bf ? HalfFloats.floatToBf16(w[i]) : HalfFloats.floatToF16(w[i]);
                }
                outS.put(start, h);
            }
        });
        return Tensor.wrap(outType, st.shape(), out);
    }

    /**
     * The float32 mean of {@code x} exactly as torch's CPU {@code Tensor.mean()} computes it on one thread: the
     * cascade sum of {@code SumKernel.cpp} (8-lane vectors, four interleaved accumulators, four levels) divided by
     * {@code n}. torch splits sums above 32,768 elements across threads, so with several threads its offset can
     * differ in the last bits; readers take the stored offset, so this only matters for writing identical bytes.
     */
    public static float torchMean(float[] x) {
        return TorchSum.sum(x) / (float) x.length;
    }

    private static void checkBlocksize(int blocksize) {
        if (!BLOCKSIZES.contains(blocksize)) {
            throw new IllegalArgumentException("invalid blocksize " + blocksize);
        }
    }

    private static void read(ByteBuffer src, DType dt, int start, float[] dst) {
        if (dt == DType.F32) {
            src.asFloatBuffer().get(start, dst);
            return;
        }
        short[] h = new short[dst.length];
        src.asShortBuffer().get(start, h);
        boolean bf = dt == DType.BF16;
        for (int i = 0; i < h.length; i++) {
            dst[i] = bf ? HalfFloats.bf16ToFloat(h[i]) : HalfFloats.f16ToFloat(h[i]);
        }
    }

    private static void parallel(int chunks, int n, java.util.function.IntConsumer body) {
        if (chunks > 1 && n >= CHUNK_ELEMENTS) {
            IntStream.range(0, chunks).parallel().forEach(body);
        } else {
            for (int c = 0; c < chunks; c++) {
                body.accept(c);
            }
        }
    }
}
