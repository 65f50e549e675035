package org.peft4j.qlora;

import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.RealMatrix;
import org.apache.commons.math3.linear.SingularValueDecomposition;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.HalfFloats;
import org.peft4j.tensor.Tensor;

/**
 * LoftQ initialisation (Li et al., arXiv 2310.08659) as PEFT 0.21.2's {@code loftq_init(weight, num_bits,
 * reduced_rank, num_iter)} computes it: starting from {@code res = W} (float32), each iteration quantizes
 * {@code res} to NF4 (bitsandbytes' {@code Params4bit} defaults: blocksize 64, no double quantization) or, with 8
 * bits, to bitsandbytes' row-wise int8 ({@code Int8Params}, through float16) and back,
 * {@code Q}, takes the rank-r SVD of {@code W - Q}, {@code L = U[:, :r] sqrt(S[:r])}, {@code R = sqrt(S[:r])
 * Vh[:r, :]}, and unless it is the last iteration sets {@code res = W - L R}. The result is {@code Q} in the weight's
 * dtype, {@code lora_A = R} [r, in] and {@code lora_B = L} [out, r], not divided by the LoRA scaling (so
 * {@code Q + B A ~ W} only when {@code lora_alpha / r = 1}), exactly as PEFT.
 *
 * <p>The SVD runs in Apache Commons Math in double precision (PEFT: torch's float32 SVD), so A and B agree with
 * PEFT's to about 1e-6 relative, and up to the sign of each rank-one pair; their product B A is sign-free. The SVD of
 * an [out, in] matrix costs O(out * in * min(out, in)) time and holds a few dense double copies: fine for the layers
 * of small models, minutes for a 4096 x 4096 layer. With one iteration {@code Q} is bit-exact with bitsandbytes'; with
 * more, {@code Q} quantizes {@code W - L R}, whose last bits differ from PEFT's, so a few codes may land on a
 * neighbour.
 *
 * <p>Stateless; thread-safe.
 */
public final class LoftQ {
    private LoftQ() {
    }

    /**
     * The result of {@link #loftqInit}.
     *
     * @param dequantizedWeight Q, the weight the base layer is replaced with, in the input's dtype
     * @param loraA R, float32 [r, in]
     * @param loraB L, float32 [out, r]
     */
    public record Result(Tensor dequantizedWeight, Tensor loraA, Tensor loraB) {
    }

    /** float32(1 / 127) as bitsandbytes writes it ({@code 7.874015718698502e-3}). */
    private static final float INV_127 = (float) 7.874015718698502e-3;

    /**
     * bitsandbytes' {@code Int8Params} round trip as PEFT's 8-bit LoftQ uses it: the weight is cast to float16,
     * quantized per row ({@code int8_vectorwise_quant}: {@code round(x * ((1 / rowmax) * 127))}, half to even) and
     * dequantized ({@code int8_vectorwise_dequant}: {@code (c * rowmax) * (1/127)} in float32). A zero row gives 0.
     */
    static float[] int8RoundTrip(float[] x, int rows, int cols) {
        float[] out = new float[x.length];
        float[] h = new float[cols];
        for (int i = 0; i < rows; i++) {
            float max = 0f;
            for (int j = 0; j < cols; j++) {
                h[j] = HalfFloats.f16ToFloat(HalfFloats.floatToF16(x[i * cols + j]));
                max = Math.max(max, Math.abs(h[j]));
            }
            if (!Float.isFinite(max)) {
                throw new IllegalArgumentException("loftq residual row " + i + " does not fit float16 (max |x| "
                        + max + "); bitsandbytes' int8 quantization goes through float16");
            }
            float scale = (1f / max) * 127f;
            for (int j = 0; j < cols; j++) {
                // an int8 code has no sign of zero: -0.4 gives +0, as torch's .to(torch.int8)
                int c = max == 0f ? 0 : (int) Math.rint(h[j] * scale);
                out[i * cols + j] = (c * max) * INV_127;
            }
        }
        return out;
    }

    /**
     * {@code loftq_init(weight, num_bits, reduced_rank, num_iter)}.
     *
     * @param weight a floating [out, in] weight
     * @param numBits 4 (NF4, blocksize 64) or 8 (bitsandbytes' int8 row-wise quantization via float16)
     * @param reducedRank r
     * @param numIter the number of alternating iterations (at least 1)
     * @throws IllegalArgumentException with PEFT's messages for bits other than 4 and 8 or iterations below 1, and
     *     for a weight that is not 2-D or a rank above {@code min(out, in)}
     */
    public static Result loftqInit(Tensor weight, int numBits, int reducedRank, int numIter) {
        if (numBits != 4 && numBits != 8) {
            throw new IllegalArgumentException("Only nf4 and int8 quantization is supported");
        }
        if (numIter <= 0) {
            throw new IllegalArgumentException("Number of iterations must be greater than 0");
        }
        if (weight.rank() != 2) {
            throw new IllegalArgumentException(
                    "Only support 2D matrix, but your input has " + weight.rank() + " dimensions.");
        }
        int out = Math.toIntExact(weight.dim(0));
        int in = Math.toIntExact(weight.dim(1));
        if (reducedRank < 1 || reducedRank > Math.min(out, in)) {
            throw new IllegalArgumentException("reduced_rank must be in [1, " + Math.min(out, in) + "], got "
                    + reducedRank);
        }
        float[] w = weight.dtype() == DType.F32 ? weight.toFloatArray() : weight.to(DType.F32).toFloatArray();
        float[] res = w.clone();
        float[] q = null;
        float[] l = null;
        float[] r = null;
        for (int it = 0; it < numIter; it++) {
            if (numBits == 4) {
                Packed4bit p = Bnb4bit.quantize("loftq residual", Tensor.of(res, out, in), QuantType.NF4, 64, false);
                q = Bnb4bit.dequantizeF32(p.packed(), p.state()).toFloatArray();
            } else {
                q = int8RoundTrip(res, out, in);
            }
            double[][] m = new double[out][in];
            for (int i = 0; i < out; i++) {
                for (int j = 0; j < in; j++) {
                    m[i][j] = w[i * in + j] - q[i * in + j]; // float32 subtraction as torch's, then widened
                }
            }
            SingularValueDecomposition svd = new SingularValueDecomposition(new Array2DRowRealMatrix(m, false));
            double[] s = svd.getSingularValues();
            RealMatrix u = svd.getU();
            RealMatrix vt = svd.getVT();
            l = new float[out * reducedRank];
            r = new float[reducedRank * in];
            for (int k = 0; k < reducedRank; k++) {
                double root = Math.sqrt(s[k]);
                for (int i = 0; i < out; i++) {
                    l[i * reducedRank + k] = (float) (u.getEntry(i, k) * root);
                }
                for (int j = 0; j < in; j++) {
                    r[k * in + j] = (float) (root * vt.getEntry(k, j));
                }
            }
            if (it + 1 == numIter) {
                break;
            }
            for (int i = 0; i < out; i++) {
                for (int j = 0; j < in; j++) {
                    double dot = 0;
                    for (int k = 0; k < reducedRank; k++) {
                        dot += (double) l[i * reducedRank + k] * r[k * in + j];
                    }
                    res[i * in + j] = w[i * in + j] - (float) dot;
                }
            }
        }
        Tensor qt = Tensor.of(q, out, in);
        return new Result(weight.dtype() == DType.F32 ? qt : qt.to(weight.dtype()), Tensor.of(r, reducedRank, in),
                Tensor.of(l, out, reducedRank));
    }
}
