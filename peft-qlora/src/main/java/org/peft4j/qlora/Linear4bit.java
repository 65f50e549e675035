package org.peft4j.qlora;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.nn.Functional;
import org.peft4j.nn.Layer;
import org.peft4j.nn.LinearLike;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * A linear layer whose weight is stored in 4 bits, as bitsandbytes' {@code bnb.nn.Linear4bit}: {@code y = x W^T + b}
 * with {@code W} [out_features, in_features] quantized block-wise to NF4 or FP4 (optionally with double-quantized
 * absmax), dequantized on use.
 *
 * <p>The parameter {@code weight} is the packed codes, uint8 [(in * out + 1) / 2, 1] (bitsandbytes' layout, two codes
 * per byte, the first in the high nibble); it is never trainable. Its {@link QuantState} (absmax, code table,
 * nested state) is held next to it and reaches ONNX Runtime as frozen initializers named after the weight
 * ({@code <weight>.absmax}, ...). {@code bias} is in the original weight's dtype. A layer built from a configuration
 * is shape-only until {@link #setQuantized(Tensor, QuantState)} gives it its codes and state.
 *
 * <p>The forward casts the input to the compute dtype ({@code bnb_4bit_compute_dtype}; null means the input's dtype,
 * as bitsandbytes picks it on the first call), computes {@code x W^T + b} with the dequantized weight and the bias in
 * that dtype, and casts the result back to the input's dtype. No gradient flows to the 4-bit weight; the gradient to
 * the input goes through the dequantized weight.
 *
 * <p>Not thread-safe, like every module: set its weight ({@link #setQuantized}, {@link #setDenseWeight}) from one
 * thread; graphs already built only read it.
 */
public class Linear4bit extends Layer implements LinearLike {
    private final long inFeatures;
    private final long outFeatures;
    private final QuantType quantType;
    private final int blocksize;
    private final boolean compressStatistics;
    private final DType computeDtype;
    private final DType dtype;
    private QuantState quantState;
    private StateParams stateParams;

    /**
     * A shape-only 4-bit linear layer.
     *
     * @param bias whether it has a bias
     * @param quantType NF4 or FP4
     * @param blocksize elements per absmax block (bitsandbytes: 32, 64, ..., 4096)
     * @param compressStatistics whether absmax is double-quantized ({@code bnb_4bit_use_double_quant})
     * @param computeDtype the dtype of the matmul ({@code bnb_4bit_compute_dtype}), or null for the input's dtype
     * @param dtype the original weight's and the bias's dtype
     * @throws IllegalArgumentException for a blocksize bitsandbytes does not allow or a non-floating dtype
     */
    public Linear4bit(long inFeatures, long outFeatures, boolean bias, QuantType quantType, int blocksize,
            boolean compressStatistics, DType computeDtype, DType dtype) {
        if (blocksize < 32 || blocksize > 4096 || Integer.bitCount(blocksize) != 1) {
            throw new IllegalArgumentException("Blocksize " + blocksize + " is not supported; expected one of 32, 64, "
                    + "128, 256, 512, 1024, 2048, 4096");
        }
        if (!dtype.isFloating() || (computeDtype != null && !computeDtype.isFloating())) {
            throw new IllegalArgumentException("dtype and compute dtype must be floating, got " + dtype + " and "
                    + computeDtype);
        }
        this.inFeatures = inFeatures;
        this.outFeatures = outFeatures;
        this.quantType = java.util.Objects.requireNonNull(quantType, "quantType");
        this.blocksize = blocksize;
        this.compressStatistics = compressStatistics;
        this.computeDtype = computeDtype;
        this.dtype = dtype;
        registerParameter("weight", new Parameter(DType.U8, packedLength(inFeatures * outFeatures), 1).setPacking(2));
        if (bias) {
            registerParameter("bias", new Parameter(dtype, outFeatures));
        }
    }

    /** The number of bytes of {@code numel} packed 4-bit codes, {@code (numel + 1) / 2}. */
    public static long packedLength(long numel) {
        return (numel + 1) / 2;
    }

    @Override
    public String typeName() {
        return "Linear4bit";
    }

    @Override
    public long inFeatures() {
        return inFeatures;
    }

    @Override
    public long outFeatures() {
        return outFeatures;
    }

    /** False: the weight is [out, in]. */
    @Override
    public boolean fanInFanOut() {
        return false;
    }

    /** NF4 or FP4. */
    public QuantType quantType() {
        return quantType;
    }

    /** Elements per absmax block. */
    public int blocksize() {
        return blocksize;
    }

    /** Whether absmax is double-quantized when this layer quantizes a weight. */
    public boolean compressStatistics() {
        return compressStatistics;
    }

    /** The dtype the matmul runs in, or null for the input's dtype. */
    public DType computeDtype() {
        return computeDtype;
    }

    /** The original weight's dtype (and the bias's). */
    public DType dtype() {
        return dtype;
    }

    /** The packed codes, uint8 [(in * out + 1) / 2, 1]. */
    public Parameter weight() {
        return parameter("weight");
    }

    /** The bias, or null. */
    @Override
    public Parameter bias() {
        return parameter("bias");
    }

    /** The quantization state of the weight, or null while the layer is shape-only. */
    public QuantState quantState() {
        return quantState;
    }

    /**
     * Gives the layer its packed weight and quantization state (e.g. from {@code Bnb4bit.quantize} or a 4-bit
     * checkpoint).
     *
     * @param packed uint8 [(in * out + 1) / 2, 1] (a 1-D [(in * out + 1) / 2] tensor is taken as that column)
     * @throws IllegalArgumentException if the packed tensor or the state do not fit this layer: state shape other
     *     than [out, in], another quant type or blocksize, packed size or dtype wrong, absmax of the wrong dtype or
     *     length
     */
    public void setQuantized(Tensor packed, QuantState st) {
        long n = packedLength(inFeatures * outFeatures);
        if (packed.dtype() != DType.U8 || packed.numel() != n || packed.rank() > 2
                || (packed.rank() == 2 && packed.dim(1) != 1)) {
            throw new IllegalArgumentException("expected packed 4-bit weight U8 [" + n + ", 1] for " + this + ", got "
                    + packed.dtype() + " " + Arrays.toString(packed.shape()));
        }
        if (!Arrays.equals(st.shape(), new long[] {outFeatures, inFeatures})) {
            throw new IllegalArgumentException("quant state shape " + Arrays.toString(st.shape()) + " does not match "
                    + this + " (expected [" + outFeatures + ", " + inFeatures + "])");
        }
        if (st.quantType() != quantType || st.blocksize() != blocksize) {
            throw new IllegalArgumentException("quant state " + st.quantType().bnbName() + "/" + st.blocksize()
                    + " does not match the layer's " + quantType.bnbName() + "/" + blocksize);
        }
        DType absmaxType = st.isNested() ? DType.U8 : DType.F32;
        if (st.absmax().dtype() != absmaxType || st.absmax().numel() != st.numBlocks()) {
            throw new IllegalArgumentException("expected absmax " + absmaxType + " [" + st.numBlocks() + "], got "
                    + st.absmax().dtype() + " " + Arrays.toString(st.absmax().shape()));
        }
        if (st.code().numel() != 16) {
            throw new IllegalArgumentException("expected a 16-entry code table, got " + Arrays.toString(st.code()
                    .shape()));
        }
        if (st.isNested()) {
            long nb2 = (st.numBlocks() + st.nested().blocksize() - 1) / st.nested().blocksize();
            if (st.nested().absmax().numel() != nb2 || st.nested().code().numel() != 256) {
                throw new IllegalArgumentException("nested absmax must be F32 [" + nb2 + "] and its code [256], got "
                        + st.nested().absmax() + " and " + st.nested().code());
            }
        }
        Tensor column = packed.rank() == 2 ? packed : packed.reshape(n, 1);
        weight().setData(column);
        this.quantState = st;
        this.stateParams = new StateParams(st);
    }

    /**
     * bitsandbytes' {@code _save_to_state_dict}: after {@code weight} (and {@code bias}), the quant state's entries
     * {@code weight.absmax}, {@code weight.quant_map}, ... ({@link Bnb4bitStateDict#asDict}); none while shape-only.
     */
    @Override
    protected Map<String, Tensor> extraState() {
        return Bnb4bitLoading.extraState(this);
    }

    /**
     * Loads {@code weight}: a float [out, in] weight is quantized as it is read; a packed uint8 weight is read with
     * its {@code weight.*} quant-state entries ({@link Bnb4bitStateDict#read}).
     */
    @Override
    protected java.util.Set<String> loadOwnState(String prefix, Map<String, Tensor> entries) {
        return Bnb4bitLoading.load(this, prefix, entries);
    }

    @Override
    public boolean hasWeightData() {
        return weight().hasData() && quantState != null;
    }

    private QuantState requireState() {
        if (quantState == null || !weight().hasData()) {
            throw new IllegalStateException(this + " has no quantized weight (built shape-only): load or quantize "
                    + "it first");
        }
        return quantState;
    }

    // ------------------------------------------------------------------ graphs

    /** The frozen parameters holding the quant state's tensors (named after the weight in graphs). */
    private static final class StateParams {
        final Parameter absmax;
        final Parameter nestedAbsmax;
        final Parameter nestedCode;

        StateParams(QuantState st) {
            absmax = new Parameter(st.absmax().reshape(st.numBlocks())).setTrainable(false);
            nestedAbsmax = st.isNested() ? new Parameter(st.nested().absmax().reshape(st.nested().absmax().numel()))
                    .setTrainable(false) : null;
            nestedCode = st.isNested() ? new Parameter(st.nested().code().reshape(256)).setTrainable(false) : null;
        }
    }

    /** The packed weight as a graph value (1-D is not needed: consumers reshape). */
    Value packedValue(Graph g) {
        requireState();
        return g.param(weight());
    }

    /** The float32 absmax [nblocks] as a graph value, de-nested in the graph for double-quantized states. */
    Value absmaxValue(Graph g) {
        return absmaxValue(g, null);
    }

    /** As {@link #absmaxValue(Graph)}, de-nested only once {@code after} is computed (null: no such wait). */
    Value absmaxValue(Graph g, Value after) {
        QuantState st = requireState();
        String w = g.param(weight()).name();
        Map<String, Parameter> names = new LinkedHashMap<>();
        names.put(w + ".absmax", stateParams.absmax);
        if (st.isNested()) {
            names.put(w + ".nested_absmax", stateParams.nestedAbsmax);
            names.put(w + ".nested_quant_map", stateParams.nestedCode);
        }
        g.nameParameters(names);
        Value absmax = g.param(stateParams.absmax);
        if (!st.isNested()) {
            return absmax;
        }
        return Bnb4Graphs.denest(g, absmax, g.param(stateParams.nestedAbsmax), g.param(stateParams.nestedCode),
                st.nested().offset(), st.nested().blocksize(), st.numBlocks(), after);
    }

    /**
     * The dequantized weight, float32 [out, in], emitted in standard ops: bitsandbytes' {@code dequantize_4bit} (the
     * float32 products rounded to the quant state's dtype), widened to float32.
     */
    @Override
    public Value denseWeight(Graph g) {
        QuantState st = requireState();
        Value w = Bnb4Graphs.dequantize(g, packedValue(g), absmaxValue(g), st.code().toFloatArray(), blocksize,
                new long[] {outFeatures, inFeatures});
        return st.dtype() == DType.F32 || !st.dtype().isFloating() ? w : g.cast(g.cast(w, st.dtype()), DType.F32);
    }

    /**
     * The dequantized weight as {@link #denseWeight(Graph)}, float32 [out, in] (a new tensor), computed in Java with
     * {@link Bnb4bit}.
     */
    @Override
    public Tensor denseWeight() {
        QuantState st = requireState();
        Tensor packed = weight().data();
        return st.dtype() == DType.F32 ? Bnb4bit.dequantizeF32(packed, st) : Bnb4bit.dequantize(packed, st).to(
                DType.F32);
    }

    /**
     * Re-quantizes the layer from the dense weight {@code w}, as bitsandbytes' {@code Params4bit(w, ...)} with this
     * layer's quant type, blocksize and double quantization: the new quant state's dtype is {@code w}'s (PEFT merges
     * a float32 sum, so a merged layer's state says float32, as bitsandbytes' does).
     *
     * @throws IllegalArgumentException if {@code w} is not a floating [out, in] tensor, or holds an infinite or NaN
     *     value
     */
    @Override
    public void setDenseWeight(Tensor w) {
        LinearLike.checkDenseShape(this, w);
        Packed4bit p = Bnb4bit.quantize("weight", w, quantType, blocksize, compressStatistics);
        setQuantized(p.packed(), p.state());
    }

    @Override
    public Value forward(Graph g, Value x) {
        QuantState st = requireState();
        DType inType = x.dtype();
        DType cd = computeDtype != null ? computeDtype : inType;
        Parameter b = bias();
        Value xc = g.cast(x, cd);
        Value y;
        if (cd == DType.F32 && Kernel.choose(g) == Kernel.MATMUL_BNB4) {
            y = Bnb4Graphs.matmulBnb4(g, xc, packedValue(g), absmaxValue(g, xc), quantType, blocksize, outFeatures,
                    inFeatures);
            if (b != null) {
                y = g.add(y, Functional.toFloat32(g, g.param(b)));
            }
        } else {
            // dequantized in float32, rounded to the compute dtype (bitsandbytes: dequantize_4bit(...).to(A.dtype));
            // half-precision products accumulate in float32 and round once, as torch's CPU matmul does
            DType acc = cd == DType.F64 ? DType.F64 : DType.F32;
            Value w = roundTo(g, Bnb4Graphs.dequantize(g, packedValue(g), absmaxValue(g, xc), st.code().toFloatArray(),
                    blocksize, new long[] {outFeatures, inFeatures}, xc), cd, acc);
            Value bias = b == null ? null : roundTo(g, Functional.toFloat32(g, g.param(b)), cd, acc);
            y = g.cast(Functional.linear(g, g.cast(xc, acc), w, bias, true), cd);
        }
        return g.cast(y, inType);
    }

    /** {@code v} rounded to {@code to} and held in {@code acc}. */
    private static Value roundTo(Graph g, Value v, DType to, DType acc) {
        return g.cast(g.cast(v, to), acc);
    }

    /**
     * The kernel a float32 forward uses. ORT's {@code MatMulBnb4} is the default, by measurement on ORT 1.29 CPU
     * (2 vCPUs shared with other builds, load 5-12, so times are noisy; {@code Linear4bitKernelBench},
     * {@code Linear4bitMemoryBench}):
     * <ul>
     *   <li>decode step x [1, 2048] . W [5632, 2048] (NF4, double quant): 6-16 ms with MatMulBnb4 against 26-67 ms for
     *       dequantize + Gemm: its native dequantization beats the graph's Cast + Gather + Mul passes about 4x;
     *   <li>training micro-batch x [1024, 2048], forward + input gradient: the same time either way (241 vs 233,
     *       436 vs 423, 578 vs 547 ms in three runs);
     *   <li>peak memory of forward + input gradient through 8 layers [2048, 2048], x [512, 2048]: +214 MiB with
     *       MatMulBnb4 (the backward dequantizes each weight again, as bitsandbytes' {@code MatMul4Bit} does, when
     *       its output gradient is ready) against +409 MiB for dequantize + Gemm (the autodiff keeps every float32
     *       weight from the forward for the backward), and +421 MiB for MatMulBnb4 when the backward's dequantization
     *       does not wait for the output gradient (ORT then runs them all first).
     * </ul>
     * Other compute dtypes dequantize + Gemm (the CPU kernel is float32 only).
     */
    enum Kernel {
        /** ORT's {@code MatMulBnb4} (float32 compute dtype only). */
        MATMUL_BNB4,
        /** Dequantize in standard ops, then {@code Gemm}. */
        DEQUANT_GEMM;

        /** Overrides the choice (tests and benchmarks); null for the default. */
        static volatile Kernel forced;

        static Kernel choose(Graph g) {
            Kernel f = forced;
            return f != null ? f : MATMUL_BNB4;
        }
    }

    @Override
    public String toString() {
        return "Linear4bit(in_features=" + inFeatures + ", out_features=" + outFeatures + ", bias="
                + (bias() != null ? "True" : "False") + ")";
    }
}
