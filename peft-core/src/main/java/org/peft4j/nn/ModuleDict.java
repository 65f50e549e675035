package org.peft4j.nn;

import java.util.ArrayList;
import java.util.List;

/**
 * Modules by key, as {@code torch.nn.ModuleDict}: each entry is a child named by its key, so its parameters appear as
 * {@code <dict>.<key>.<param>}. PEFT keeps per-adapter sub-layers in such dictionaries ({@code lora_A.default}).
 */
public class ModuleDict extends Module {
    /** Adds or replaces the module under {@code key}. */
    public <M extends Module> M put(String key, M module) {
        return registerModule(key, module);
    }

    /** The module under {@code key}, or null. */
    public Module get(String key) {
        return child(key);
    }

    /** Removes and returns the module under {@code key} (null if absent). */
    public Module remove(String key) {
        return removeModule(key);
    }

    /**
     * Whether a module is registered under {@code key}.
     *
     * @param key the name
     * @return true when present
     */
    public boolean containsKey(String key) {
        return child(key) != null;
    }

    /** Keys in insertion order. */
    public List<String> keys() {
        return new ArrayList<>(namedChildren().keySet());
    }

    /**
     * The number of modules.
     *
     * @return the size
     */
    public int size() {
        return namedChildren().size();
    }

    @Override
    public String typeName() {
        return "ModuleDict";
    }
}
