package org.peft4j.qlora;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.lora.LoraLinear;
import org.peft4j.lora.LoraVariant;
import org.peft4j.nn.Layer;
import org.peft4j.nn.ModuleDict;
import org.peft4j.tensor.DType;

/**
 * LoRA on a 4-bit linear layer, PEFT's {@code peft.tuners.lora.bnb.Linear4bit}: {@code y = base(x) + sum over active
 * adapters of B(A(dropout(x))) * scaling}, each adapter's branch computed in its own dtype (float32: the input is
 * cast to {@code lora_A}'s dtype), cast to the base output's dtype and added to it, as PEFT does when autocast is off.
 * Merging dequantizes the base weight, adds the delta and re-quantizes it (see {@link Linear4bit#setDenseWeight}),
 * with PEFT's warning about rounding.
 *
 * <p>Not thread-safe for adapter management (adding, merging), like {@link LoraLinear}.
 */
public class LoraLinear4bit extends LoraLinear {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(LoraLinear4bit.class);

    /** LoRA on {@code base}. */
    public LoraLinear4bit(Linear4bit base) {
        super(base);
    }

    /** The wrapped 4-bit layer. */
    public Linear4bit base4bit() {
        return (Linear4bit) baseLayer();
    }

    @Override
    public String typeName() {
        return "Linear4bit";
    }

    @Override
    public Value forward(Graph g, Value x) {
        Value result = baseLayer().forward(g, x);
        if (disabled() || merged()) {
            return result;
        }
        org.peft4j.peft.tuners.AdapterSelection rows = org.peft4j.peft.tuners.AdapterSelection.current();
        DType expected = result.dtype();
        for (String a : rows == null ? activeAdapters() : rows.uniqueAdapters()) {
            if (!r().containsKey(a)) {
                continue;
            }
            try (Graph.Scope s = g.scope("lora_" + a)) {
                Value xa = g.cast(x, loraA(a).weight().dtype());
                Value dx = ((Layer) ((ModuleDict) child("lora_dropout")).get(a)).forward(g, xa);
                LoraVariant variant = loraVariant().get(a);
                if (rows != null) {
                    // PEFT's _mixed_batch_forward on lora.bnb.Linear4bit: each row gets only its own adapter's delta
                    if (variant != null) {
                        throw new IllegalArgumentException("Cannot pass `adapter_names` when DoRA is enabled.");
                    }
                    Value out = g.cast(g.mulScalar(loraOutput(g, a, dx), scaling().get(a)), DType.F32);
                    result = addIn(g, result, g.mul(out, rows.mask(g, a)), expected);
                } else if (variant == null) {
                    Value out = g.mulScalar(loraOutput(g, a, dx), scaling().get(a));
                    result = addIn(g, result, out, expected);
                } else {
                    // variants add to the running result themselves (in float32)
                    result = g.cast(variant.forward(g, this, a, dx, g.cast(result, DType.F32)), expected);
                }
            }
        }
        return result;
    }

    /** {@code result + out.to(result.dtype)}, a half-precision sum computed in float32 and rounded once. */
    private static Value addIn(Graph g, Value result, Value out, DType dt) {
        Value o = g.cast(out, dt);
        if (dt == DType.F32 || dt == DType.F64) {
            return g.add(result, o);
        }
        return g.cast(g.add(g.cast(result, DType.F32), g.cast(o, DType.F32)), dt);
    }

    /**
     * Merges as PEFT's {@code lora.bnb.Linear4bit.merge}: per adapter, warns about rounding, dequantizes the base
     * weight, adds the adapter's delta and re-quantizes it with the layer's quant type, blocksize and double
     * quantization.
     */
    @Override
    public void merge(boolean safeMerge, java.util.List<String> names) {
        java.util.List<String> want = names == null ? activeAdapters() : names;
        java.util.List<String> fresh = new java.util.ArrayList<>();
        for (String a : want) {
            if (r().containsKey(a) && !mergedAdapters().contains(a)) {
                fresh.add(a);
            }
        }
        if (fresh.isEmpty()) {
            super.merge(safeMerge, names);
            return;
        }
        for (String a : fresh) {
            LOG.warn("Merge lora module to 4-bit linear may get different generations due to rounding errors.");
            super.merge(safeMerge, java.util.List.of(a));
        }
    }

    @Override
    protected void unmergeOne(String a) {
        LOG.warn("Unmerge lora module to 4-bit linear may get different generations due to rounding errors.");
        super.unmergeOne(a);
    }

    @Override
    public String toString() {
        return "lora.Linear4bit(" + baseLayer() + ", r=" + r() + ")";
    }
}
