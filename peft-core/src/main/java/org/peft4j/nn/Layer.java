package org.peft4j.nn;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;

/**
 * A module with one input and one output, e.g. {@link Linear}. Adapter wrappers (LoRA) are layers too, so they can
 * take the place of the layer they wrap.
 */
public abstract class Layer extends Module {
    /** Emits this layer's computation of {@code x} into {@code g}. */
    public abstract Value forward(Graph g, Value x);
}
