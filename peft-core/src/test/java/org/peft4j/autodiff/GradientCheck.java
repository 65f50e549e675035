package org.peft4j.autodiff;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.runtime.CompiledGraph;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * Checks autodiff against central finite differences in float64: the loss is {@code sum(f(inputs) * R)} for a fixed
 * random R, so every output element's gradient path is exercised with a different weight.
 */
final class GradientCheck {
    private GradientCheck() {
    }

    /** Builds inputs of the given shapes (float64), applies {@code f}, and compares gradients to finite differences. */
    static void check(OrtRuntime rt, String label, long[][] shapes, double[][] values,
            Function<List<Value>, Value> f, double tol) {
        check(rt, label, shapes, values, f, tol, 1e-6);
    }

    /** As above with step {@code h} (larger steps for paths through float32). */
    static void check(OrtRuntime rt, String label, long[][] shapes, double[][] values,
            Function<List<Value>, Value> f, double tol, double h) {
        check(rt, label, shapes, values, f, tol, h, Map.of());
    }

    /** As above, feeding {@code extraFeed} too (e.g. the dropout seed), the same value at every evaluation. */
    static void check(OrtRuntime rt, String label, long[][] shapes, double[][] values,
            Function<List<Value>, Value> f, double tol, double h, Map<String, Tensor> extraFeed) {
        Graph g = new Graph();
        List<Value> ins = new ArrayList<>();
        for (int k = 0; k < shapes.length; k++) {
            Dim[] dims = new Dim[shapes[k].length];
            for (int j = 0; j < dims.length; j++) {
                dims[j] = Dim.of(shapes[k][j]);
            }
            ins.add(g.input("x" + k, DType.F64, dims));
        }
        Value y = f.apply(ins);
        long n = y.shape().numel();
        Random rnd = new Random(label.hashCode());
        double[] r = new double[(int) n];
        for (int k = 0; k < r.length; k++) {
            r[k] = rnd.nextGaussian();
        }
        Value weighted = g.mul(y, g.constant(Tensor.of(r, y.shape().sizes())));
        long[] all = new long[y.rank()];
        for (int k = 0; k < all.length; k++) {
            all[k] = k;
        }
        Value loss = all.length == 0 ? weighted : g.reduceSum(weighted, false, all);
        Autodiff.Result res = Autodiff.gradients(g, loss, ins);
        g.output("loss", loss);
        for (int k = 0; k < ins.size(); k++) {
            g.output("grad" + k, res.gradient(ins.get(k)));
        }
        CompiledGraph cg = rt.compile(g, p -> false);
        Map<String, Tensor> feed = new LinkedHashMap<>(extraFeed);
        for (int k = 0; k < shapes.length; k++) {
            feed.put("x" + k, Tensor.of(values[k].clone(), shapes[k]));
        }
        Map<String, Tensor> out = cg.run(feed);
        for (int k = 0; k < shapes.length; k++) {
            double[] analytic = out.get("grad" + k).toDoubleArray();
            assertThat(out.get("grad" + k).shape()).as(label + " grad shape " + k).containsExactly(shapes[k]);
            for (int e = 0; e < values[k].length; e++) {
                double[] plus = values[k].clone();
                double[] minus = values[k].clone();
                plus[e] += h;
                minus[e] -= h;
                double lp = lossAt(cg, feed, k, plus, shapes[k]);
                double lm = lossAt(cg, feed, k, minus, shapes[k]);
                double numeric = (lp - lm) / (2 * h);
                double err = Math.abs(numeric - analytic[e]) / Math.max(1.0, Math.abs(numeric));
                assertThat(err).as("%s: d/dx%d[%d] analytic %s numeric %s", label, k, e, analytic[e], numeric)
                        .isLessThan(tol);
            }
        }
    }

    private static double lossAt(CompiledGraph cg, Map<String, Tensor> feed, int k, double[] v, long[] shape) {
        Map<String, Tensor> f = new LinkedHashMap<>(feed);
        f.put("x" + k, Tensor.of(v, shape));
        return cg.run(f).get("loss").getDouble(0);
    }

    /** Deterministic values in [lo, hi). */
    static double[] values(int n, long seed, double lo, double hi) {
        Random r = new Random(seed);
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = lo + (hi - lo) * r.nextDouble();
        }
        return v;
    }
}
