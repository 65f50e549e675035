package org.peft4j.lora;

import java.util.List;
import java.util.Random;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.nn.Conv1D;
import org.peft4j.nn.Layer;
import org.peft4j.nn.Linear;
import org.peft4j.nn.LinearLike;
import org.peft4j.peft.tuners.AdapterSelection;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * LoRA on a linear-like layer ({@code lora.Linear}): a {@link Linear}, GPT-2's {@link Conv1D}, or any other
 * {@link LinearLike} base (e.g. a quantized linear layer). {@code y = base(x) + B(A(dropout(x))) * scaling} for each
 * active adapter, with {@code lora_A} [r, in] and {@code lora_B} [out, r] as float32 linear layers. An adapter with a
 * {@link LoraVariant} (e.g. {@link DoraVariant}) computes, merges and unmerges through its variant. Merged or disabled
 * adapters emit the base path only. Merges and weight-based inits use the base's dense weight
 * ({@link LinearLike#denseWeight()}), and update plainly stored weights in their own layout.
 */
public class LoraLinear extends LoraLayer {
    private final boolean fanInFanOut;
    private final long inFeatures;
    private final long outFeatures;

    /** LoRA on {@code base}, with {@code fan_in_fan_out} as the base stores its weight. */
    public <L extends Layer & LinearLike> LoraLinear(L base) {
        super(base);
        this.fanInFanOut = base.fanInFanOut();
        this.inFeatures = base.inFeatures();
        this.outFeatures = base.outFeatures();
    }

    /** As {@link #LoraLinear(Layer)}, checking that {@code fanInFanOut} matches the base (tests). */
    LoraLinear(Layer base, boolean fanInFanOut) {
        this(asLinearLike(base));
        if (fanInFanOut != this.fanInFanOut) {
            throw new IllegalArgumentException("fan_in_fan_out=" + fanInFanOut + " does not match " + base.typeName());
        }
    }

    @SuppressWarnings("unchecked")
    private static <L extends Layer & LinearLike> L asLinearLike(Layer base) {
        if (!(base instanceof LinearLike)) {
            throw new IllegalArgumentException("LoRA Linear wraps a linear-like layer, got " + base.typeName());
        }
        return (L) base;
    }

    @Override
    public String typeName() {
        return "Linear";
    }

    /**
     * The base layer's input width.
     *
     * @return in_features
     */
    public long inFeatures() {
        return inFeatures;
    }

    /**
     * The base layer's output width.
     *
     * @return out_features
     */
    public long outFeatures() {
        return outFeatures;
    }

    /**
     * PEFT's {@code fan_in_fan_out}: the base weight is stored {@code [in, out]} (GPT-2's Conv1D).
     *
     * @return the flag
     */
    public boolean fanInFanOut() {
        return fanInFanOut;
    }

    /** The base layer as a linear-like layer. */
    public LinearLike linearBase() {
        return (LinearLike) baseLayer();
    }

    /** The base layer's weight parameter (its raw storage). */
    Parameter baseWeight() {
        return baseLayer().parameter("weight");
    }

    @Override
    public void updateLayer(LoraAdapterSpec spec) {
        String name = spec.name();
        putCommon(spec);
        Linear a = loraA().put(name, new Linear(inFeatures, spec.r(), false, DType.F32));
        Linear b = loraB().put(name, new Linear(spec.r(), outFeatures, spec.loraBias(), DType.F32));
        LoraInit.linear(this, name, a, b, spec);
        if (spec.variant() != null) {
            spec.variant().init(this, name);
        }
        setAdapter(active, false);
    }

    /** {@link #updateLayer(LoraAdapterSpec)} with positional arguments ({@code dora} selects {@link DoraVariant}). */
    void updateLayer(String name, int rank, double alpha, double dropout, Object init, boolean rslora, boolean dora,
            boolean bias, Random rng) {
        updateLayer(new LoraAdapterSpec(name, rank, alpha, dropout, init, rslora, dora ? DoraVariant.INSTANCE : null,
                bias, rng));
    }

    /** The adapter's weight delta {@code s B A} in float32, [out, in] ([in, out] for fan-in-fan-out). */
    public Tensor getDeltaWeight(String adapter) {
        return LoraMath.deltaWeight(loraA(adapter).weight().data(), mergeB(adapter),
                scaling.get(adapter), fanInFanOut);
    }

    /** The {@code lora_A} layer of {@code adapter}. */
    public Linear loraA(String adapter) {
        return (Linear) loraA().get(adapter);
    }

    /** The {@code lora_B} layer of {@code adapter}. */
    public Linear loraB(String adapter) {
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
        AdapterSelection rows = AdapterSelection.current();
        for (String a : rows == null ? active : rows.uniqueAdapters()) {
            if (!r.containsKey(a)) {
                continue;
            }
            try (Graph.Scope s = g.scope("lora_" + a)) {
                Value dx = ((Layer) loraDropout().get(a)).forward(g, xf);
                LoraVariant variant = loraVariant.get(a);
                if (rows != null) {
                    // PEFT's _mixed_batch_forward: each row gets only its own adapter's delta
                    if (variant != null) {
                        throw new IllegalArgumentException("Cannot pass `adapter_names` when DoRA is enabled.");
                    }
                    Value delta = g.mulScalar(loraOutput(g, a, dx), scaling.get(a));
                    acc = g.add(acc, g.mul(delta, rows.mask(g, a)));
                } else if (variant == null) {
                    acc = g.add(acc, g.mulScalar(loraOutput(g, a, dx), scaling.get(a)));
                } else {
                    acc = variant.forward(g, this, a, dx, acc);
                }
            }
        }
        return outType == DType.F32 ? acc : g.cast(acc, outType);
    }

    /** {@code B(A(dx))} for adapter {@code a}, before scaling, float32 [..., out]. */
    public Value loraOutput(Graph g, String a, Value dx) {
        return loraB(a).forward(g, loraA(a).forward(g, dx));
    }

    /** The [out, r] matrix B of {@code s B A} for merging (assembled in full for fused layers). */
    public Tensor mergeB(String a) {
        return loraB(a).weight().data();
    }

    @Override
    public void merge(boolean safeMerge, List<String> names) {
        for (String a : toMerge(names)) {
            LoraMath.merge(this, a, safeMerge);
            merged.add(a);
        }
    }

    @Override
    protected void unmergeOne(String a) {
        LoraMath.unmerge(this, a);
    }

    @Override
    public String toString() {
        return "lora.Linear(" + baseLayer() + ", r=" + r + ")";
    }
}
