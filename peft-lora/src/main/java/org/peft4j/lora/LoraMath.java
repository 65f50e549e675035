package org.peft4j.lora;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.runtime.CompiledGraph;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * Delta-weight arithmetic for merging, run in ONNX Runtime. A merge {@code W + s * B A} (transposed for
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
final class LoraMath {
    private static final Map<String, CompiledGraph> GRAPHS = new HashMap<>();

    private LoraMath() {
    }

    /**
     * The result of a merge: the merged weight (the input tensor itself after an in-place merge) and whether all its
     * entries are finite (true when not checked).
     */
    static final class Merged {
        final Tensor weight;
        final boolean finite;

        Merged(Tensor weight, boolean finite) {
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
    static Merged addDelta(Tensor w, Tensor a, Tensor b, double scaling, boolean fanInFanOut, int sign,
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
    static boolean canMergeInPlace(Tensor w, boolean safeMerge) {
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
        cg.runInto(in, outs);
        if (inPlace) {
            w.markModified();
        }
        return new Merged(out, finite == null || Float.isFinite(finite.getFloat(0)));
    }

    /** {@code s * B A} in float32, [out, in] (or [in, out] when {@code fanInFanOut}). */
    static Tensor deltaWeight(Tensor a, Tensor b, double scaling, boolean fanInFanOut) {
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
    static Tensor weightNorm(Tensor w, Tensor a, Tensor b, double scaling, boolean fanInFanOut) {
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
    static Merged doraApply(Tensor w, Tensor a, Tensor b, double scaling, boolean fanInFanOut, Tensor factor,
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
}
