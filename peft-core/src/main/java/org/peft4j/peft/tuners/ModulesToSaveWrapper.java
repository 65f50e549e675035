package org.peft4j.peft.tuners;

import java.util.ArrayList;
import java.util.List;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.nn.Layer;
import org.peft4j.nn.ModuleDict;

/**
 * A module trained in full per adapter ({@code modules_to_save}): the frozen {@code original_module} plus one
 * trainable copy per adapter in {@code modules_to_save}. The forward runs the copy of the active adapter, or the
 * original when disabled or when no adapter is active. Saved keys drop {@code modules_to_save.<adapter>}.
 */
public final class ModulesToSaveWrapper extends Layer {
    private String activeAdapter;
    private boolean disabled;

    /** Wraps {@code original} and adds a trainable copy for {@code adapterName}. */
    public ModulesToSaveWrapper(Layer original, String adapterName) {
        registerModule("original_module", original);
        registerModule("modules_to_save", new ModuleDict());
        original.requiresGrad(false);
        update(adapterName);
        setAdapter(List.of(adapterName), false);
    }

    @Override
    public String typeName() {
        return "ModulesToSaveWrapper";
    }

    /**
     * The wrapped base module ({@code original_module}), used when no adapter is active.
     *
     * @return the base module
     */
    public Layer originalModule() {
        return (Layer) child("original_module");
    }

    /**
     * The trainable copies, one per adapter name ({@code modules_to_save}).
     *
     * @return the copies
     */
    public ModuleDict copies() {
        return (ModuleDict) child("modules_to_save");
    }

    /** Adds a copy of the original module for {@code adapterName} (if not present yet). */
    public void update(String adapterName) {
        if (!copies().containsKey(adapterName)) {
            Layer copy = (Layer) originalModule().deepCopy();
            copy.requiresGrad(false);
            copies().put(adapterName, copy);
        }
    }

    /** The active adapter, or null. */
    public String activeAdapter() {
        return activeAdapter;
    }

    /**
     * Activates one adapter (a name absent from this wrapper leaves it inactive).
     *
     * @throws IllegalArgumentException with PEFT's message when several names are given
     */
    public void setAdapter(List<String> names, boolean inferenceMode) {
        if (names.size() > 1) {
            throw new IllegalArgumentException("Attempted to set multiple (" + names + ") adapters at once for "
                    + "modules_to_save.");
        }
        for (String k : copies().keys()) {
            copies().get(k).requiresGrad(false);
        }
        activeAdapter = null;
        if (!names.isEmpty() && copies().containsKey(names.get(0))) {
            activeAdapter = names.get(0);
            copies().get(activeAdapter).requiresGrad(!inferenceMode);
        }
    }

    /**
     * Turns the adapters on or off: off, {@link #current()} is the original module.
     *
     * @param enabled false to disable
     */
    public void enableAdapters(boolean enabled) {
        this.disabled = !enabled;
        if (activeAdapter != null) {
            copies().get(activeAdapter).requiresGrad(enabled);
        }
    }

    /**
     * Whether the adapters are disabled.
     *
     * @return true when disabled
     */
    public boolean disabled() {
        return disabled;
    }

    /** Removes the copy of {@code name}. */
    public void deleteAdapter(String name) {
        copies().remove(name);
        if (name.equals(activeAdapter)) {
            activeAdapter = null;
        }
    }

    /** The names of the copies. */
    public List<String> adapterNames() {
        return new ArrayList<>(copies().keys());
    }

    /** The layer that computes the output now. */
    /** The active adapter, the disabled flag and the copies held: what decides the nodes {@code forward} emits. */
    @Override
    public Object forwardState() {
        return java.util.Arrays.asList(activeAdapter, disabled, java.util.List.copyOf(adapterNames()));
    }

    /**
     * The module that runs now: the active adapter's copy, or the original module when disabled or no adapter is
     * active.
     *
     * @return the module
     */
    public Layer current() {
        if (disabled || activeAdapter == null) {
            return originalModule();
        }
        return (Layer) copies().get(activeAdapter);
    }

    /** Whether any parameter of the copy of {@code name} is trainable. */
    boolean trainable(String name) {
        for (Parameter p : copies().get(name).parameters()) {
            if (p.trainable()) {
                return true;
            }
        }
        return false;
    }

    @Override
    public Value forward(Graph g, Value x) {
        return current().forward(g, x);
    }
}
