package org.peft4j.lora;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.nn.Layer;
import org.peft4j.tensor.DType;

/**
 * DoRA's learned magnitude ({@code lora_magnitude_vector.<adapter>}, PEFT's {@code DoraLinearLayer}): one float32
 * {@code weight} per output row. Saved as {@code ...lora_magnitude_vector} (PEFT strips the {@code .weight}).
 */
public final class DoraMagnitude extends Layer {
    DoraMagnitude(long outFeatures) {
        registerParameter("weight", new Parameter(DType.F32, outFeatures));
    }

    /**
     * DoRA's magnitude vector {@code [out_features]} (PEFT's {@code lora_magnitude_vector}).
     *
     * @return the parameter
     */
    public Parameter weight() {
        return parameter("weight");
    }

    @Override
    public String typeName() {
        return "DoraLinearLayer";
    }

    /** Not a computation of its own: {@link LoraLinear} uses the magnitude. */
    @Override
    public Value forward(Graph g, Value x) {
        throw new UnsupportedOperationException("the DoRA magnitude is applied by its LoRA layer");
    }
}
