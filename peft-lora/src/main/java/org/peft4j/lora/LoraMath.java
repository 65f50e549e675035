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
 * Delta-weight arithmetic for merging, run in ONNX Runtime: {@code W + s * B A} (transposed for fan-in-fan-out
 * weights) is one small graph whose weight input is handed to ORT without a copy and whose output is written
 * straight into a new buffer. Half-precision weights are merged in float32 and rounded once, as PEFT does on CPU.
 * Every merge also yields a finiteness check ({@code sum(W' * 0)}, NaN iff some entry is NaN or infinite).
 */
final class LoraMath {
    private static final Map<String, CompiledGraph> GRAPHS = new HashMap<>();

    private LoraMath() {
    }

    /** The result of a merge: the new weight and whether all its entries are finite. */
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

    /** {@code s * B A} as float32 [out, in] (or [in, out] when {@code fanInFanOut}). */
    private static Value delta(Graph g, Value a, Value b, Value s, boolean fanInFanOut) {
        Value ba = g.matmul(g.cast(b, DType.F32), g.cast(a, DType.F32));
        Value d = g.mul(ba, s);
        return fanInFanOut ? g.transpose(d, 1, 0) : d;
    }

    /**
     * {@code W + sign * s * B A}, with {@code A} [r, in] and {@code B} [out, r].
     *
     * @param sign +1 to merge, -1 to unmerge
     */
    static Merged addDelta(Tensor w, Tensor a, Tensor b, double scaling, boolean fanInFanOut, int sign) {
        DType dt = w.dtype();
        CompiledGraph cg = graph("add:" + dt + ":" + fanInFanOut, () -> {
            Graph g = new Graph();
            Dim o = Dim.of("o");
            Dim i = Dim.of("i");
            Value wv = fanInFanOut ? g.input("w", dt, i, o) : g.input("w", dt, o, i);
            Value av = g.input("a", a.dtype(), Dim.of("r"), i);
            Value bv = g.input("b", b.dtype(), o, Dim.of("r"));
            Value s = g.input("s", DType.F32);
            Value out = g.add(g.cast(wv, DType.F32), delta(g, av, bv, s, fanInFanOut));
            g.output("check", g.reduceSum(g.mulScalar(out, 0.0), false, 0, 1));
            g.output("out", dt == DType.F32 ? out : g.cast(out, dt));
            return g;
        });
        return run(cg, w, a, b, sign * scaling);
    }

    private static Merged run(CompiledGraph cg, Tensor w, Tensor a, Tensor b, double s) {
        Tensor out = Tensor.zeros(w.dtype(), w.shape());
        Tensor check = Tensor.zeros(DType.F32);
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("w", w);
        in.put("a", a);
        in.put("b", b);
        in.put("s", Tensor.scalar((float) s));
        Map<String, Tensor> outs = new LinkedHashMap<>();
        outs.put("out", out);
        outs.put("check", check);
        cg.runInto(in, outs);
        return new Merged(out, Float.isFinite(check.getFloat(0)));
    }

    /** {@code s * B A} in float32, [out, in] (or [in, out] when {@code fanInFanOut}). */
    static Tensor deltaWeight(Tensor a, Tensor b, double scaling, boolean fanInFanOut) {
        CompiledGraph cg = graph("delta:" + a.dtype() + ":" + fanInFanOut, () -> {
            Graph g = new Graph();
            Value av = g.input("a", a.dtype(), Dim.of("r"), Dim.of("i"));
            Value bv = g.input("b", b.dtype(), Dim.of("o"), Dim.of("r"));
            Value s = g.input("s", DType.F32);
            g.output("out", delta(g, av, bv, s, fanInFanOut));
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
            Value sum = g.add(wf, delta(g, av, bv, s, false));
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
     */
    static Merged doraApply(Tensor w, Tensor a, Tensor b, double scaling, boolean fanInFanOut, Tensor factor,
            boolean merge) {
        DType dt = w.dtype();
        CompiledGraph cg = graph("dora:" + dt + ":" + fanInFanOut + ":" + merge, () -> {
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
            Value d = delta(g, av, bv, s, fanInFanOut);
            Value wf = g.cast(wv, DType.F32);
            Value out = merge ? g.mul(fb, g.add(wf, d)) : g.sub(g.div(wf, fb), d);
            g.output("check", g.reduceSum(g.mulScalar(out, 0.0), false, 0, 1));
            g.output("out", dt == DType.F32 ? out : g.cast(out, dt));
            return g;
        });
        Tensor out = Tensor.zeros(dt, w.shape());
        Tensor check = Tensor.zeros(DType.F32);
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("w", w);
        in.put("a", a);
        in.put("b", b);
        in.put("s", Tensor.scalar((float) scaling));
        in.put("f", factor);
        Map<String, Tensor> outs = new LinkedHashMap<>();
        outs.put("out", out);
        outs.put("check", check);
        cg.runInto(in, outs);
        return new Merged(out, Float.isFinite(check.getFloat(0)));
    }
}
