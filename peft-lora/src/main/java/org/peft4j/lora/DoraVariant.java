package org.peft4j.lora;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.nn.Functional;
import org.peft4j.tensor.Tensor;

/**
 * DoRA ({@code use_dora=True}, PEFT's {@code DoraLinearVariant}): a learned magnitude {@code m} per output row
 * ({@code lora_magnitude_vector}, initialised to {@code ||W + s B A||}) rescales the adapted weight,
 * {@code W' = m * (W + s B A) / ||W + s B A||}. The base weight is read through the base layer's dense weight, so DoRA
 * works on any {@link org.peft4j.nn.LinearLike} base (quantized ones included).
 */
public final class DoraVariant implements LoraVariant {
    /** The (stateless) DoRA variant. */
    public static final DoraVariant INSTANCE = new DoraVariant();

    private static final String FACTOR = "-dora_factor";

    private DoraVariant() {
    }

    /** Creates the magnitude vector and, when the base weights are loaded, sets it to the row norms. */
    @Override
    public void init(LoraLinear layer, String adapter) {
        DoraMagnitude m = layer.magnitude().put(adapter, new DoraMagnitude(layer.outFeatures()));
        if (layer.linearBase().hasWeightData()) {
            m.weight().setData(LoraMath.doraNorm(layer, adapter));
        }
    }

    /** {@code f * (W + s B A)} with {@code f = m / ||W + s B A||}; remembers {@code f} for an exact unmerge. */
    @Override
    public LoraMath.Merged merge(LoraLinear layer, String adapter, LoraMath.Target w, boolean check,
            boolean inPlace) {
        Tensor factor = LoraMath.doraFactor(layer, adapter, magnitude(layer, adapter).weight().data(), w);
        LoraMath.Merged m = LoraMath.doraMerge(layer, adapter, factor, w, check, inPlace);
        layer.cacheStore(adapter + FACTOR, factor);
        return m;
    }

    /** {@code W' / f - s B A} with the factor of the merge. */
    @Override
    public Tensor unmerge(LoraLinear layer, String adapter, LoraMath.Target w, boolean inPlace) {
        return LoraMath.doraUnmerge(layer, adapter, layer.cachePop(adapter + FACTOR), w, inPlace);
    }

    /**
     * Adds {@code (f - 1) * (dx W^T) + f * s * B(A(dx))}, with {@code f = m / stop_grad(||W + s B A||)}. PEFT uses
     * {@code base_layer(x) - bias} without dropout and {@code dropout(x) W^T} with it; both are {@code dropout(x) W^T}.
     */
    @Override
    public Value forward(Graph g, LoraLinear layer, String adapter, Value dx, Value result) {
        Value lora = layer.loraOutput(g, adapter, dx);
        double s = layer.scaling().get(adapter);
        Value wOI = layer.linearBase().denseWeight(g);
        Value ba = g.matmul(g.param(layer.loraB(adapter).weight()), g.param(layer.loraA(adapter).weight()));
        Value sum = g.add(wOI, g.mulScalar(ba, s));
        Value norm = g.stopGradient(g.sqrt(g.reduceSum(g.mul(sum, sum), false, 1)));
        Value f = g.div(g.param(magnitude(layer, adapter).weight()), norm);
        Value base = Functional.linear(g, dx, wOI, null, true);
        return g.add(result, g.add(g.mul(g.addScalar(f, -1.0), base), g.mul(f, g.mulScalar(lora, s))));
    }

    private static DoraMagnitude magnitude(LoraLinear layer, String adapter) {
        return (DoraMagnitude) layer.magnitude().get(adapter);
    }

    @Override
    public String toString() {
        return "DoraVariant";
    }
}
