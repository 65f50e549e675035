package org.peft4j.nn;

import java.util.ArrayList;
import java.util.List;
import org.peft4j.graph.Parameter;

/**
 * Parameters by key, as {@code torch.nn.ParameterDict}: the parameter's dotted name ends with its key
 * ({@code lora_embedding_A.default}).
 */
public class ParameterDict extends Module {
    /** Adds or replaces the parameter under {@code key}. */
    public Parameter put(String key, Parameter p) {
        return registerParameter(key, p);
    }

    /** The parameter under {@code key}, or null. */
    public Parameter get(String key) {
        return parameter(key);
    }

    /** Removes and returns the parameter under {@code key} (null if absent). */
    public Parameter remove(String key) {
        Parameter p = parameter(key);
        registerParameter(key, null);
        return p;
    }

    /**
     * Whether a parameter is registered under {@code key}.
     *
     * @param key the name
     * @return true when present
     */
    public boolean containsKey(String key) {
        return parameter(key) != null;
    }

    /** Keys in insertion order. */
    public List<String> keys() {
        return new ArrayList<>(directParameters().keySet());
    }

    @Override
    public String typeName() {
        return "ParameterDict";
    }
}
