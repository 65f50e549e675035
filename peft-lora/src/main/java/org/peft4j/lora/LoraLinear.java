package org.peft4j.lora;

import java.util.List;
import java.util.Random;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.nn.Conv1D;
import org.peft4j.nn.Functional;
import org.peft4j.nn.Layer;
import org.peft4j.nn.Linear;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * LoRA on a {@link Linear} or on GPT-2's {@link Conv1D} ({@code lora.Linear}): {@code y = base(x) + B(A(dropout(x)))
 * * scaling} for each active adapter, with {@code lora_A} [r, in] and {@code lora_B} [out, r] as float32 linear
 * layers. With DoRA the adapter output is rescaled per output row by {@code m / ||W + s B A||} (the norm a constant
 * for differentiation). Merged or disabled adapters emit the base path only.
 */
public class LoraLinear extends LoraLayer {
    private final boolean fanInFanOut;
    private final long inFeatures;
    private final long outFeatures;
    /** DoRA: the per-row factors used at merge time, for an exact unmerge. */
    private final java.util.Map<String, Tensor> doraFactors = new java.util.HashMap<>();

    LoraLinear(Layer base, boolean fanInFanOut) {
        super(base);
        this.fanInFanOut = fanInFanOut;
        if (base instanceof Linear) {
            inFeatures = ((Linear) base).inFeatures();
            outFeatures = ((Linear) base).outFeatures();
        } else if (base instanceof Conv1D) {
            inFeatures = ((Conv1D) base).inFeatures();
            outFeatures = ((Conv1D) base).outFeatures();
        } else {
            throw new IllegalArgumentException("LoRA Linear wraps Linear or Conv1D, got " + base.typeName());
        }
    }

    @Override
    public String typeName() {
        return "Linear";
    }

    public long inFeatures() {
        return inFeatures;
    }

    public long outFeatures() {
        return outFeatures;
    }

    public boolean fanInFanOut() {
        return fanInFanOut;
    }

    Parameter baseWeight() {
        return baseLayer().parameter("weight");
    }

    Parameter baseBias() {
        return baseLayer().parameter("bias");
    }

    /** Adds (or replaces) adapter {@code name} ({@code update_layer}). */
    void updateLayer(String name, int rank, double alpha, double dropout, Object init, boolean rslora, boolean dora,
            boolean bias, Random rng) {
        putCommon(name, rank, alpha, rslora, dropout, dora, bias);
        Linear a = loraA().put(name, new Linear(inFeatures, rank, false, DType.F32));
        Linear b = loraB().put(name, new Linear(rank, outFeatures, bias, DType.F32));
        LoraInit.linear(this, name, a, b, init, rng);
        if (dora) {
            DoraMagnitude m = magnitude().put(name, new DoraMagnitude(outFeatures));
            if (baseWeight().hasData()) {
                m.weight().setData(LoraMath.weightNorm(baseWeight().data(), a.weight().data(), b.weight().data(),
                        scaling.get(name), fanInFanOut));
            }
        }
        setAdapter(active, false);
    }

    /** The adapter's weight delta {@code s B A} in float32, [out, in] ([in, out] for fan-in-fan-out). */
    public Tensor getDeltaWeight(String adapter) {
        return LoraMath.deltaWeight(loraA(adapter).weight().data(), mergeB(adapter),
                scaling.get(adapter), fanInFanOut);
    }

    Linear loraA(String adapter) {
        return (Linear) loraA().get(adapter);
    }

    Linear loraB(String adapter) {
        return (Linear) loraB().get(adapter);
    }

    @Override
    public Value forward(Graph g, Value x) {
        Value result = baseLayer().forward(g, x);
        if (disabled() || merged()) {
            return result;
        }
        DType outType = result.dtype();
        Value xf = x.dtype() == DType.F32 ? x : g.cast(x, DType.F32);
        Value acc = outType == DType.F32 ? result : g.cast(result, DType.F32);
        for (String a : active) {
            if (!r.containsKey(a)) {
                continue;
            }
            try (Graph.Scope s = g.scope("lora_" + a)) {
                Value dx = ((Layer) loraDropout().get(a)).forward(g, xf);
                Value lora = loraOutput(g, a, dx);
                if (!useDora.get(a)) {
                    acc = g.add(acc, g.mulScalar(lora, scaling.get(a)));
                } else {
                    acc = g.add(acc, dora(g, a, dx, lora));
                }
            }
        }
        return outType == DType.F32 ? acc : g.cast(acc, outType);
    }

    /** {@code B(A(dx))} for adapter {@code a}, before scaling. */
    Value loraOutput(Graph g, String a, Value dx) {
        return loraB(a).forward(g, loraA(a).forward(g, dx));
    }

    /** The [out, r] matrix B of {@code s B A} for merging. */
    Tensor mergeB(String a) {
        return loraB(a).weight().data();
    }

    /** DoRA's addition: {@code (f - 1) * (x W^T) + f * lora * s}, with {@code f = m / stop_grad(||W + s B A||)}. */
    private Value dora(Graph g, String a, Value dx, Value lora) {
        double s = scaling.get(a);
        Value w = g.cast(g.param(baseWeight()), DType.F32);
        Value wOI = fanInFanOut ? g.transpose(w, 1, 0) : w;
        Value ba = g.matmul(g.param(loraB(a).weight()), g.param(loraA(a).weight()));
        Value sum = g.add(wOI, g.mulScalar(ba, s));
        Value norm = g.stopGradient(g.sqrt(g.reduceSum(g.mul(sum, sum), false, 1)));
        Value f = g.div(g.param(((DoraMagnitude) magnitude().get(a)).weight()), norm);
        // PEFT uses base_layer(x) - bias without dropout and dropout(x) W^T with it; both are dropout(x) W^T
        Value base = Functional.linear(g, dx, wOI, null, true);
        return g.add(g.mul(g.addScalar(f, -1.0), base), g.mul(f, g.mulScalar(lora, s)));
    }

    @Override
    public void merge(boolean safeMerge, List<String> names) {
        for (String a : toMerge(names)) {
            Tensor w = baseWeight().data();
            Tensor aw = loraA(a).weight().data();
            Tensor bw = mergeB(a);
            if (loraBias.get(a) && baseBias() == null) {
                throw new IllegalStateException("Impossible to merge LoRA with `lora_bias=True` because the base "
                        + "layer has no bias.");
            }
            LoraMath.Merged m;
            boolean inPlace = LoraMath.canMergeInPlace(w, safeMerge);
            Tensor factor = null;
            if (useDora.get(a)) {
                Tensor norm = LoraMath.weightNorm(w, aw, bw, scaling.get(a), fanInFanOut);
                factor = ratio(((DoraMagnitude) magnitude().get(a)).weight().data(), norm);
                m = LoraMath.doraApply(w, aw, bw, scaling.get(a), fanInFanOut, factor, true, safeMerge, inPlace);
            } else {
                m = LoraMath.addDelta(w, aw, bw, scaling.get(a), fanInFanOut, +1, safeMerge, inPlace);
            }
            if (safeMerge && !m.finite) {
                throw new IllegalArgumentException("NaNs detected in the merged weights. The adapter " + a
                        + " seems to be broken");
            }
            Tensor newBias = null;
            if (loraBias.get(a)) {
                newBias = addScaled(baseBias().data(), loraB(a).bias().data(), scaling.get(a));
                if (safeMerge && !allFinite(newBias)) {
                    throw new IllegalArgumentException("NaNs detected in the merged weights. The adapter " + a
                            + " seems to be broken");
                }
            }
            baseWeight().setData(m.weight);
            if (newBias != null) {
                baseBias().setData(newBias);
            }
            if (factor != null) {
                doraFactors.put(a, factor);
            }
            merged.add(a);
        }
    }

    @Override
    void unmergeOne(String a) {
        Tensor w = baseWeight().data();
        Tensor aw = loraA(a).weight().data();
        Tensor bw = mergeB(a);
        boolean inPlace = LoraMath.canMergeInPlace(w, false);
        LoraMath.Merged m = useDora.get(a)
                ? LoraMath.doraApply(w, aw, bw, scaling.get(a), fanInFanOut, doraFactors.remove(a), false, false,
                        inPlace)
                : LoraMath.addDelta(w, aw, bw, scaling.get(a), fanInFanOut, -1, false, inPlace);
        baseWeight().setData(m.weight);
        if (loraBias.get(a)) {
            baseBias().setData(addScaled(baseBias().data(), loraB(a).bias().data(), -scaling.get(a)));
        }
    }

    /** {@code b + s * v} (a bias-sized vector; small). */
    private static Tensor addScaled(Tensor b, Tensor v, double s) {
        double[] x = b.toDoubleArray();
        double[] y = v.toDoubleArray();
        for (int i = 0; i < x.length; i++) {
            x[i] += s * y[i];
        }
        return Tensor.of(x, b.shape()).to(b.dtype());
    }

    private static Tensor ratio(Tensor m, Tensor norm) {
        float[] x = m.to(DType.F32).toFloatArray();
        float[] n = norm.toFloatArray();
        for (int i = 0; i < x.length; i++) {
            x[i] /= n[i];
        }
        return Tensor.of(x, m.shape());
    }

    private static boolean allFinite(Tensor t) {
        for (double d : t.toDoubleArray()) {
            if (!Double.isFinite(d)) {
                return false;
            }
        }
        return true;
    }

    @Override
    public String toString() {
        return "lora.Linear(" + baseLayer() + ", r=" + r + ")";
    }
}
