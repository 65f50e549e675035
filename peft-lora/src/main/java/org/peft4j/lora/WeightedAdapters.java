package org.peft4j.lora;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.RealMatrix;
import org.apache.commons.math3.linear.SingularValueDecomposition;
import org.peft4j.graph.Parameter;
import org.peft4j.peft.tuners.BaseTunerLayer;
import org.peft4j.tensor.Tensor;

/**
 * {@code add_weighted_adapter}: a new adapter whose delta combines existing adapters' deltas {@code D_i = s_i B_i A_i}
 * with weights {@code w_i}. The new adapter has {@code lora_alpha = r}, no rslora (scaling exactly 1), no bias mode
 * and no rank or alpha patterns.
 * <ul>
 *   <li>{@code linear}: {@code A = Σ sign(w_i s_i) sqrt|w_i s_i| A_i}, {@code B = Σ sqrt|w_i s_i| B_i}; all ranks must
 *       be equal. Exact for one adapter; with several it adds the cross terms {@code B_i A_j}, as in PEFT.
 *   <li>{@code cat}: {@code A = [w_1 s_1 A_1; w_2 s_2 A_2; ...]}, {@code B = [B_1, B_2, ...]}, rank {@code Σ r_i}: the
 *       delta is exactly {@code Σ w_i D_i}.
 *   <li>{@code svd}: the best rank-k approximation of {@code Σ w_i D_i} (k = {@code svdRank}, or the largest source
 *       rank): {@code B = U_k S_k}, {@code A = V_k^T}. Each {@code s_i} is applied once (PEFT at some versions
 *       applied it twice).
 * </ul>
 */
final class WeightedAdapters {
    private WeightedAdapters() {
    }

    static void add(LoraModel model, List<String> adapters, List<Double> weights, String name, String type,
            Integer svdRank) {
        if (model.peftConfig().containsKey(name)) {
            return;
        }
        if (adapters.size() != weights.size()) {
            throw new IllegalArgumentException("adapters and weights must have the same length, got "
                    + adapters.size() + " and " + weights.size());
        }
        for (String a : adapters) {
            if (!model.peftConfig().containsKey(a)) {
                throw new IllegalArgumentException("Adapter " + a + " does not exist");
            }
            LoraConfig c = (LoraConfig) model.peftConfig().get(a);
            if (c.modulesToSave() != null && adapters.size() > 1) {
                throw new IllegalArgumentException("Cannot add weighted adapters if they target the same module with "
                        + "modules_to_save, but found 1 such instance(s).");
            }
            if (c.useDora()) {
                throw new IllegalArgumentException("add_weighted_adapter does not support DoRA adapters (" + a + ")");
            }
            if (c.enableLora() != null) {
                throw new IllegalArgumentException("add_weighted_adapter does not support enable_lora adapters");
            }
        }
        if (adapters.size() == 1) {
            type = "linear";
        }
        List<Integer> ranks = new ArrayList<>();
        for (String a : adapters) {
            ranks.add(maxRank(model, a));
        }
        int newRank;
        switch (type) {
            case "linear":
                for (int r : ranks) {
                    if (r != ranks.get(0)) {
                        throw new IllegalArgumentException("All adapters must have the same r value when using "
                                + "combination_type linear, ties, dare_ties or dare_linear.");
                    }
                }
                newRank = ranks.get(0);
                break;
            case "cat":
                newRank = ranks.stream().mapToInt(Integer::intValue).sum();
                break;
            case "svd":
                newRank = svdRank != null ? svdRank : ranks.stream().mapToInt(Integer::intValue).max().getAsInt();
                break;
            default:
                throw new IllegalArgumentException("Invalid combination_type: " + type);
        }
        LoraConfig cfg0 = (LoraConfig) model.peftConfig().get(adapters.get(0));
        LoraConfig cfg = cfg0.copy();
        cfg.setRankAlpha(newRank, newRank);
        cfg.useRslora = false;
        cfg.bias = "none";
        cfg.loraDropout = cfg0.loraDropout();
        cfg.initLoraWeights = Boolean.TRUE;
        cfg.setTargetModules(unionTargets(model, adapters));
        cfg.setModulesToSave(null);
        model.inject(name, cfg);
        for (BaseTunerLayer l : model.tunerLayers().values()) {
            if (!l.adapterNames().contains(name)) {
                continue;
            }
            LoraLayer layer = (LoraLayer) l;
            Mats[] src = new Mats[adapters.size()];
            for (int i = 0; i < adapters.size(); i++) {
                src[i] = Mats.of(layer, adapters.get(i));
            }
            Mats target = Mats.of(layer, name);
            Mats out;
            if ("linear".equals(type)) {
                out = linear(src, weights, target);
            } else if ("cat".equals(type)) {
                out = cat(src, weights, target);
            } else {
                out = svd(src, weights, target);
            }
            target.store(out);
        }
    }

    private static int maxRank(LoraModel model, String adapter) {
        LoraConfig c = (LoraConfig) model.peftConfig().get(adapter);
        int r = c.r();
        for (int v : c.rankPattern().values()) {
            r = Math.max(r, v);
        }
        for (BaseTunerLayer l : model.tunerLayers().values()) {
            Integer lr = ((LoraLayer) l).r.get(adapter);
            if (lr != null && lr != c.r()) {
                throw new IllegalArgumentException("add_weighted_adapter needs one rank per adapter; adapter " + adapter
                        + " has layer ranks that differ (rank_pattern)");
            }
        }
        return r;
    }

    private static Object unionTargets(LoraModel model, List<String> adapters) {
        boolean anyString = false;
        for (String a : adapters) {
            anyString |= model.peftConfig().get(a) instanceof LoraConfig
                    && ((LoraConfig) model.peftConfig().get(a)).targetModules() instanceof String;
        }
        if (anyString) {
            List<String> parts = new ArrayList<>();
            for (String a : adapters) {
                Object t = ((LoraConfig) model.peftConfig().get(a)).targetModules();
                if (t instanceof String) {
                    parts.add("(" + t + ")");
                } else {
                    for (Object o : (Collection<?>) t) {
                        parts.add("(.*\\." + java.util.regex.Pattern.quote(String.valueOf(o)) + ")");
                    }
                }
            }
            return String.join("|", parts);
        }
        Set<String> union = new LinkedHashSet<>();
        for (String a : adapters) {
            for (Object o : (Collection<?>) ((LoraConfig) model.peftConfig().get(a)).targetModules()) {
                union.add(String.valueOf(o));
            }
        }
        return union;
    }

    /**
     * An adapter's A [r, in] and B [out, r] in one layer, as doubles, with its scaling (null matrices when the layer
     * lacks the adapter). Embedding adapters are viewed the same way: A = lora_embedding_A [r, num], B =
     * lora_embedding_B [dim, r].
     */
    private static final class Mats {
        final LoraLayer layer;
        final String adapter;
        final double[][] a;
        final double[][] b;
        final double scaling;

        Mats(LoraLayer layer, String adapter, double[][] a, double[][] b, double scaling) {
            this.layer = layer;
            this.adapter = adapter;
            this.a = a;
            this.b = b;
            this.scaling = scaling;
        }

        static Mats of(LoraLayer layer, String adapter) {
            if (!layer.r.containsKey(adapter)) {
                return new Mats(layer, adapter, null, null, 0);
            }
            Parameter[] ab = params(layer, adapter);
            return new Mats(layer, adapter, matrix(ab[0].data()), matrix(ab[1].data()), layer.scaling.get(adapter));
        }

        static Parameter[] params(LoraLayer layer, String adapter) {
            if (layer instanceof LoraEmbedding) {
                return new Parameter[] {layer.loraEmbeddingA().get(adapter), layer.loraEmbeddingB().get(adapter)};
            }
            LoraLinear l = (LoraLinear) layer;
            return new Parameter[] {l.loraA(adapter).weight(), l.loraB(adapter).weight()};
        }

        void store(Mats m) {
            Parameter[] ab = params(layer, adapter);
            ab[0].setData(tensor(m.a));
            ab[1].setData(tensor(m.b));
        }

        int rows() {
            return dims()[0];
        }

        /** [out, in] of the layer in adapter terms. */
        int[] dims() {
            Parameter[] ab = params(layer, adapter);
            return new int[] {(int) ab[1].shape()[0], (int) ab[0].shape()[1]};
        }
    }

    private static Mats linear(Mats[] src, List<Double> w, Mats target) {
        int[] d = target.dims();
        int r = target.layer.r.get(target.adapter);
        double[][] a = new double[r][d[1]];
        double[][] b = new double[d[0]][r];
        for (int i = 0; i < src.length; i++) {
            if (src[i].a == null) {
                continue;
            }
            double ws = w.get(i) * src[i].scaling;
            double root = Math.sqrt(Math.abs(ws));
            double sign = Math.signum(ws);
            addInto(a, src[i].a, root * sign);
            addInto(b, src[i].b, root);
        }
        return new Mats(target.layer, target.adapter, a, b, 1);
    }

    private static Mats cat(Mats[] src, List<Double> w, Mats target) {
        int[] d = target.dims();
        int r = target.layer.r.get(target.adapter);
        double[][] a = new double[r][d[1]];
        double[][] b = new double[d[0]][r];
        int offset = 0;
        for (int i = 0; i < src.length; i++) {
            int ri = maxRows(src[i], target);
            if (src[i].a != null) {
                double ws = w.get(i) * src[i].scaling;
                for (int k = 0; k < src[i].a.length; k++) {
                    for (int j = 0; j < d[1]; j++) {
                        a[offset + k][j] = ws * src[i].a[k][j];
                    }
                    for (int o = 0; o < d[0]; o++) {
                        b[o][offset + k] = src[i].b[o][k];
                    }
                }
            }
            offset += ri;
        }
        return new Mats(target.layer, target.adapter, a, b, 1);
    }

    /** The rank slot a source adapter takes in a cat combination (its config rank, even where it is absent). */
    private static int maxRows(Mats m, Mats target) {
        if (m.a != null) {
            return m.a.length;
        }
        return 0;
    }

    private static Mats svd(Mats[] src, List<Double> w, Mats target) {
        int[] d = target.dims();
        int k = target.layer.r.get(target.adapter);
        RealMatrix delta = new Array2DRowRealMatrix(d[0], d[1]);
        for (int i = 0; i < src.length; i++) {
            if (src[i].a == null) {
                continue;
            }
            RealMatrix ba = new Array2DRowRealMatrix(src[i].b, false).multiply(new Array2DRowRealMatrix(src[i].a,
                    false));
            delta = delta.add(ba.scalarMultiply(w.get(i) * src[i].scaling));
        }
        SingularValueDecomposition svd = new SingularValueDecomposition(delta);
        double[] s = svd.getSingularValues();
        RealMatrix u = svd.getU();
        RealMatrix vt = svd.getVT();
        double[][] a = new double[k][d[1]];
        double[][] b = new double[d[0]][k];
        for (int c = 0; c < Math.min(k, s.length); c++) {
            for (int o = 0; o < d[0]; o++) {
                b[o][c] = u.getEntry(o, c) * s[c];
            }
            for (int j = 0; j < d[1]; j++) {
                a[c][j] = vt.getEntry(c, j);
            }
        }
        return new Mats(target.layer, target.adapter, a, b, 1);
    }

    private static void addInto(double[][] acc, double[][] x, double c) {
        for (int i = 0; i < acc.length; i++) {
            for (int j = 0; j < acc[i].length; j++) {
                acc[i][j] += c * x[i][j];
            }
        }
    }

    private static double[][] matrix(Tensor t) {
        long[] s = t.shape();
        double[] d = t.toDoubleArray();
        double[][] m = new double[(int) s[0]][(int) s[1]];
        for (int i = 0; i < s[0]; i++) {
            System.arraycopy(d, (int) (i * s[1]), m[i], 0, (int) s[1]);
        }
        return m;
    }

    private static Tensor tensor(double[][] m) {
        int rows = m.length;
        int cols = m[0].length;
        float[] d = new float[rows * cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                d[i * cols + j] = (float) m[i][j];
            }
        }
        return Tensor.of(d, rows, cols);
    }
}
