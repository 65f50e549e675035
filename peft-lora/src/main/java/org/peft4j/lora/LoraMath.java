package org.peft4j.lora;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.nn.LinearLike;
import org.peft4j.runtime.CompiledGraph;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * All of LoRA's merge arithmetic: merging and unmerging adapters of {@link LoraLinear} (through the base layer's
 * {@link LinearLike} contract, {@code fan_in_fan_out} layouts and bias included) and {@link LoraEmbedding}, DoRA's
 * weight norm and magnitude factor, and the delta weights; {@link LoraVariant}s build their merges from these.
 *
 * <p>Delta-weight arithmetic for merging runs in ONNX Runtime. A merge {@code W + s * B A} (transposed for
 * fan-in-fan-out weights) is one {@code Gemm} node, {@code B (s A) + W}, with the small {@code A} [r, in] scaled
 * first: the weight is read once, handed to ORT without a copy, and the result is written straight into a pinned
 * output, with no [out, in] intermediate. That output is the weight's own buffer for an in-place merge (PEFT's
 * {@code weight.data += delta}: no second copy of the weight, which matters for large models) or a new tensor
 * otherwise. In place is safe because every graph here reads each weight element before writing the same element:
 * Gemm's {@code C} is copied elementwise into {@code Y} before the product is accumulated, and in the half-precision
 * and DoRA graphs the weight is only read by the first node and the output written by the last (the test
 * {@code LoraMathTest} compares in-place and new-tensor results bit for bit). Half-precision weights are merged in
 * float32 and rounded once, as PEFT does on CPU. A safe merge also computes a finiteness check
 * ({@code sum(W' * 0)}, NaN iff some entry is NaN or infinite); a plain merge skips it, since it costs two more passes
 * over the weight. Each graph is compiled once per process (cached here by kind, dtype and layout; its dimensions are
 * symbolic).
 */
public final class LoraMath {
    private static final Map<String, CompiledGraph> GRAPHS = new HashMap<>();

    private LoraMath() {
    }

    /**
     * The result of a merge: the merged weight (the input tensor itself after an in-place merge) and whether all its
     * entries are finite (true when not checked).
     */
    public static final class Merged {
        /** The merged weight. */
        public final Tensor weight;
        /** Whether all entries of the merged weight are finite (true when not checked). */
        public final boolean finite;

        /** A merged weight and its finiteness. */
        public Merged(Tensor weight, boolean finite) {
            this.weight = weight;
            this.finite = finite;
        }
    }

    private static synchronized CompiledGraph graph(String key, java.util.function.Supplier<Graph> build) {
        CompiledGraph cg = GRAPHS.get(key);
        if (cg == null || cg.isClosed()) {
            cg = OrtRuntime.shared().compile(build.get(), p -> true);
            GRAPHS.put(key, cg);
        }
        return cg;
    }

    /**
     * {@code s * B A + c} as float32 [out, in], or {@code (s * B A)^T + c} [in, out] when {@code fanInFanOut}: one Gemm
     * over {@code B} and the scaled {@code A}. {@code c} may be null (the delta alone).
     */
    private static Value scaledGemm(Graph g, Value a, Value b, Value s, Value c, boolean fanInFanOut) {
        Value sa = g.mul(g.cast(a, DType.F32), s);
        Value bf = g.cast(b, DType.F32);
        return fanInFanOut ? g.gemm(sa, bf, c, true, true) : g.gemm(bf, sa, c, false, false);
    }

    /** Adds the finiteness check output: {@code sum(x * 0)}, NaN iff some entry of x is NaN or infinite. */
    private static void checkOutput(Graph g, Value x) {
        g.output("check", g.reduceSum(g.mulScalar(x, 0.0), false, 0, 1));
    }

    /**
     * {@code W + sign * s * B A}, with {@code A} [r, in] and {@code B} [out, r].
     *
     * @param sign +1 to merge, -1 to unmerge
     * @param check whether to compute {@link Merged#finite} (safe merge)
     * @param inPlace write the result into {@code w} (which must be {@linkplain Tensor#isWritableDirect() writable})
     */
    public static Merged addDelta(Tensor w, Tensor a, Tensor b, double scaling, boolean fanInFanOut, int sign,
            boolean check, boolean inPlace) {
        DType dt = w.dtype();
        CompiledGraph cg = graph("add:" + dt + ":" + fanInFanOut + ":" + check, () -> {
            Graph g = new Graph();
            Dim o = Dim.of("o");
            Dim i = Dim.of("i");
            Value wv = fanInFanOut ? g.input("w", dt, i, o) : g.input("w", dt, o, i);
            Value av = g.input("a", a.dtype(), Dim.of("r"), i);
            Value bv = g.input("b", b.dtype(), o, Dim.of("r"));
            Value s = g.input("s", DType.F32);
            Value out = scaledGemm(g, av, bv, s, g.cast(wv, DType.F32), fanInFanOut);
            if (check) {
                checkOutput(g, out);
            }
            g.output("out", dt == DType.F32 ? out : g.cast(out, dt));
            return g;
        });
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("w", w);
        in.put("a", a);
        in.put("b", b);
        in.put("s", Tensor.scalar((float) (sign * scaling)));
        return run(cg, in, w, check, inPlace);
    }

    /**
     * Whether a merge may write into {@code w}: not for a safe merge (the weight must stay untouched when the check
     * fails, as PEFT's safe merge works on a clone), and only for writable direct storage (memory-mapped weights are
     * read-only and get a new tensor).
     */
    public static boolean canMergeInPlace(Tensor w, boolean safeMerge) {
        return !safeMerge && w.isWritableDirect();
    }

    /**
     * Runs a merge graph into {@code w} itself ({@code inPlace}) or a new tensor shaped as {@code w}, and the check
     * scalar when asked.
     */
    private static Merged run(CompiledGraph cg, Map<String, Tensor> in, Tensor w, boolean check, boolean inPlace) {
        if (inPlace && !w.isWritableDirect()) {
            throw new IllegalArgumentException("cannot merge in place into read-only or heap storage: " + w);
        }
        Tensor out = inPlace ? w : Tensor.zeros(w.dtype(), w.shape());
        Map<String, Tensor> outs = new LinkedHashMap<>();
        outs.put("out", out);
        Tensor finite = null;
        if (check) {
            finite = Tensor.zeros(DType.F32);
            outs.put("check", finite);
        }
        // runInto marks every tensor it wrote modified (the in-place weight included)
        cg.runInto(in, outs);
        return new Merged(out, finite == null || Float.isFinite(finite.getFloat(0)));
    }

    /** {@code s * B A} in float32, [out, in] (or [in, out] when {@code fanInFanOut}). */
    public static Tensor deltaWeight(Tensor a, Tensor b, double scaling, boolean fanInFanOut) {
        CompiledGraph cg = graph("delta:" + a.dtype() + ":" + fanInFanOut, () -> {
            Graph g = new Graph();
            Value av = g.input("a", a.dtype(), Dim.of("r"), Dim.of("i"));
            Value bv = g.input("b", b.dtype(), Dim.of("o"), Dim.of("r"));
            Value s = g.input("s", DType.F32);
            g.output("out", scaledGemm(g, av, bv, s, null, fanInFanOut));
            return g;
        });
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("a", a);
        in.put("b", b);
        in.put("s", Tensor.scalar((float) scaling));
        return cg.run(in).get("out");
    }

    /**
     * The row norms {@code ||W + s B A||} (over the input dimension) in float32 [out], W taken as [out, in].
     */
    public static Tensor weightNorm(Tensor w, Tensor a, Tensor b, double scaling, boolean fanInFanOut) {
        DType dt = w.dtype();
        CompiledGraph cg = graph("norm:" + dt + ":" + fanInFanOut, () -> {
            Graph g = new Graph();
            Dim o = Dim.of("o");
            Dim i = Dim.of("i");
            Value wv = fanInFanOut ? g.input("w", dt, i, o) : g.input("w", dt, o, i);
            Value av = g.input("a", a.dtype(), Dim.of("r"), i);
            Value bv = g.input("b", b.dtype(), o, Dim.of("r"));
            Value s = g.input("s", DType.F32);
            Value wf = g.cast(wv, DType.F32);
            if (fanInFanOut) {
                wf = g.transpose(wf, 1, 0);
            }
            Value sum = scaledGemm(g, av, bv, s, wf, false);
            g.output("out", g.sqrt(g.reduceSum(g.mul(sum, sum), false, 1)));
            return g;
        });
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("w", w);
        in.put("a", a);
        in.put("b", b);
        in.put("s", Tensor.scalar((float) scaling));
        return cg.run(in).get("out");
    }

    /**
     * DoRA merge {@code f * (W + s B A)} or unmerge {@code W' / f - s B A}, with the per-row factor {@code f}
     * [out] (applied along the output dimension).
     *
     * @param check whether to compute {@link Merged#finite} (safe merge)
     * @param inPlace write the result into {@code w} (which must be {@linkplain Tensor#isWritableDirect() writable})
     */
    public static Merged doraApply(Tensor w, Tensor a, Tensor b, double scaling, boolean fanInFanOut, Tensor factor,
            boolean merge, boolean check, boolean inPlace) {
        DType dt = w.dtype();
        CompiledGraph cg = graph("dora:" + dt + ":" + fanInFanOut + ":" + merge + ":" + check, () -> {
            Graph g = new Graph();
            Dim o = Dim.of("o");
            Dim i = Dim.of("i");
            Value wv = fanInFanOut ? g.input("w", dt, i, o) : g.input("w", dt, o, i);
            Value av = g.input("a", a.dtype(), Dim.of("r"), i);
            Value bv = g.input("b", b.dtype(), o, Dim.of("r"));
            Value s = g.input("s", DType.F32);
            Value f = g.input("f", DType.F32, o);
            // factor broadcast along the output dimension: rows for [out, in], columns for [in, out]
            Value fb = fanInFanOut ? f : g.unsqueeze(f, 1);
            Value wf = g.cast(wv, DType.F32);
            Value out = merge ? g.mul(fb, scaledGemm(g, av, bv, s, wf, fanInFanOut))
                    : scaledGemm(g, av, bv, g.neg(s), g.div(wf, fb), fanInFanOut);
            if (check) {
                checkOutput(g, out);
            }
            g.output("out", dt == DType.F32 ? out : g.cast(out, dt));
            return g;
        });
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("w", w);
        in.put("a", a);
        in.put("b", b);
        in.put("s", Tensor.scalar((float) scaling));
        in.put("f", factor);
        return run(cg, in, w, check, inPlace);
    }
    // ------------------------------------------------------------------ the weight a merge updates

    /**
     * The weight of a {@link LinearLike} base layer as a merge sees it: the stored tensor in its own layout and dtype
     * when the layer stores its weight plainly ({@link LinearLike#plainWeight()}; merged in place when writable), or
     * else the dense float32 [out, in] weight, merged into a new tensor and written back with
     * {@link LinearLike#setDenseWeight(Tensor)}.
     */
    public static final class Target {
        private final LinearLike base;
        private final Parameter plain;
        private final Tensor weight;

        private Target(LinearLike base, Parameter plain, Tensor weight) {
            this.base = base;
            this.plain = plain;
            this.weight = weight;
        }

        /** The weight of {@code base} to merge into. */
        public static Target of(LinearLike base) {
            Parameter plain = base.plainWeight();
            return plain != null ? new Target(base, plain, plain.data()) : new Target(base, null, base.denseWeight());
        }

        /** The weight: [out, in], or [in, out] when {@link #fanInFanOut()}. */
        public Tensor weight() {
            return weight;
        }

        /** Whether {@link #weight()} is [in, out]. */
        public boolean fanInFanOut() {
            return plain != null && base.fanInFanOut();
        }

        /**
         * Whether a merge may write into {@link #weight()}: only for plainly stored weights (a dense weight may be a
         * view of the layer's storage) and as {@link LoraMath#canMergeInPlace(Tensor, boolean)} allows.
         */
        public boolean canMergeInPlace(boolean safeMerge) {
            return plain != null && LoraMath.canMergeInPlace(weight, safeMerge);
        }

        /** Makes {@code merged} (laid out as {@link #weight()}) the layer's weight. */
        public void store(Tensor merged) {
            if (plain != null) {
                plain.setData(merged);
            } else {
                base.setDenseWeight(merged);
            }
        }
    }

    // ------------------------------------------------------------------ layer merges

    /**
     * Merges adapter {@code a} into the base layer of {@code layer}: {@code W + s B A} (or the adapter's variant's
     * merge) and, with {@code lora_bias}, {@code b + s b_B}. A safe merge checks the result for NaN and infinities
     * before the layer sees it.
     */
    static void merge(LoraLinear layer, String a, boolean safeMerge) {
        LinearLike base = layer.linearBase();
        Target w = Target.of(base);
        double s = layer.scaling.get(a);
        boolean loraBias = layer.loraBias.get(a);
        if (loraBias && base.bias() == null) {
            throw new IllegalStateException("Impossible to merge LoRA with `lora_bias=True` because the base "
                    + "layer has no bias.");
        }
        boolean inPlace = w.canMergeInPlace(safeMerge);
        LoraVariant variant = layer.loraVariant().get(a);
        Merged m = variant == null
                ? addDelta(w.weight(), layer.loraA(a).weight().data(), layer.mergeB(a), s, w.fanInFanOut(), +1,
                        safeMerge, inPlace)
                : variant.merge(layer, a, w, safeMerge, inPlace);
        if (safeMerge && !m.finite) {
            throw brokenAdapter(a);
        }
        Tensor newBias = null;
        if (loraBias) {
            newBias = addScaled(base.bias().data(), layer.loraB(a).bias().data(), s);
            if (safeMerge && !allFinite(newBias)) {
                throw brokenAdapter(a);
            }
        }
        w.store(m.weight);
        if (newBias != null) {
            base.bias().setData(newBias);
        }
    }

    /** Removes merged adapter {@code a} from the base layer of {@code layer} (the inverse of {@link #merge}). */
    static void unmerge(LoraLinear layer, String a) {
        LinearLike base = layer.linearBase();
        Target w = Target.of(base);
        double s = layer.scaling.get(a);
        boolean inPlace = w.canMergeInPlace(false);
        LoraVariant variant = layer.loraVariant().get(a);
        w.store(variant == null
                ? addDelta(w.weight(), layer.loraA(a).weight().data(), layer.mergeB(a), s, w.fanInFanOut(), -1,
                        false, inPlace).weight
                : variant.unmerge(layer, a, w, inPlace));
        if (layer.loraBias.get(a)) {
            base.bias().setData(addScaled(base.bias().data(), layer.loraB(a).bias().data(), -s));
        }
    }

    /**
     * Merges adapter {@code a} of an embedding: {@code W [num, dim] + (B A)^T s}, with "A" = lora_embedding_A
     * [r, num] and "B" = lora_embedding_B [dim, r], the fan-in-fan-out form of the linear merge.
     */
    static void merge(LoraEmbedding layer, String a, boolean safeMerge) {
        Parameter wp = layer.baseWeight();
        Tensor w = wp.data();
        Merged m = addDelta(w, layer.loraEmbeddingA().get(a).data(), layer.loraEmbeddingB().get(a).data(),
                layer.scaling.get(a), true, +1, safeMerge, canMergeInPlace(w, safeMerge));
        if (safeMerge && !m.finite) {
            throw brokenAdapter(a);
        }
        wp.setData(m.weight);
    }

    /** Removes merged adapter {@code a} from an embedding. */
    static void unmerge(LoraEmbedding layer, String a) {
        Parameter wp = layer.baseWeight();
        Tensor w = wp.data();
        wp.setData(addDelta(w, layer.loraEmbeddingA().get(a).data(), layer.loraEmbeddingB().get(a).data(),
                layer.scaling.get(a), true, -1, false, canMergeInPlace(w, false)).weight);
    }

    private static IllegalArgumentException brokenAdapter(String a) {
        return new IllegalArgumentException("NaNs detected in the merged weights. The adapter " + a
                + " seems to be broken");
    }

    // ------------------------------------------------------------------ DoRA

    /**
     * DoRA's initial magnitude {@code ||W + s B A||} per output row, float32 [out], from the weight of the base layer
     * of {@code layer}.
     */
    public static Tensor doraNorm(LoraLinear layer, String a) {
        Target w = Target.of(layer.linearBase());
        return weightNorm(w.weight(), layer.loraA(a).weight().data(), layer.mergeB(a), layer.scaling.get(a),
                w.fanInFanOut());
    }

    /**
     * DoRA's per-row merge factor {@code f = m / ||W + s B A||}, float32 [out], for magnitude {@code m} and the
     * weight {@code w} about to be merged into.
     */
    public static Tensor doraFactor(LoraLinear layer, String a, Tensor magnitude, Target w) {
        return ratio(magnitude, weightNorm(w.weight(), layer.loraA(a).weight().data(), layer.mergeB(a),
                layer.scaling.get(a), w.fanInFanOut()));
    }

    /** DoRA merge {@code f * (W + s B A)} with the factor {@code f} of {@link #doraFactor}. */
    public static Merged doraMerge(LoraLinear layer, String a, Tensor factor, Target w, boolean check,
            boolean inPlace) {
        return doraApply(w.weight(), layer.loraA(a).weight().data(), layer.mergeB(a), layer.scaling.get(a),
                w.fanInFanOut(), factor, true, check, inPlace);
    }

    /** DoRA unmerge {@code W' / f - s B A} with the factor {@code f} used by the merge. */
    public static Tensor doraUnmerge(LoraLinear layer, String a, Tensor factor, Target w, boolean inPlace) {
        return doraApply(w.weight(), layer.loraA(a).weight().data(), layer.mergeB(a), layer.scaling.get(a),
                w.fanInFanOut(), factor, false, false, inPlace).weight;
    }

    // ------------------------------------------------------------------ small vectors

    /** {@code b + s * v} (a bias-sized vector; small), in the dtype of {@code b}. */
    static Tensor addScaled(Tensor b, Tensor v, double s) {
        double[] x = b.toDoubleArray();
        double[] y = v.toDoubleArray();
        for (int i = 0; i < x.length; i++) {
            x[i] += s * y[i];
        }
        return Tensor.of(x, b.shape()).to(b.dtype());
    }

    /** {@code m / norm} elementwise in float32. */
    static Tensor ratio(Tensor m, Tensor norm) {
        float[] x = m.to(DType.F32).toFloatArray();
        float[] n = norm.toFloatArray();
        for (int i = 0; i < x.length; i++) {
            x[i] /= n[i];
        }
        return Tensor.of(x, m.shape());
    }

    static boolean allFinite(Tensor t) {
        for (double d : t.toDoubleArray()) {
            if (!Double.isFinite(d)) {
                return false;
            }
        }
        return true;
    }
}
