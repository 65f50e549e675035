package org.peft4j.peft.tuners;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.peft4j.graph.Parameter;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.nn.Layer;
import org.peft4j.nn.Module;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.tensor.Tensor;
import org.peft4j.util.PyRepr;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The base of layer-injection methods ({@code BaseTuner}: LoRA, 4-bit LoRA, IA3, AdaLoRA): it owns the adapters'
 * configs, injects wrapper layers into the base model's tree by PEFT's matching rules, and switches, enables, merges,
 * deletes and unloads adapters across all wrapped layers. A method supplies how a matched module is wrapped
 * ({@link #createAndReplace}) and which parameters are its own ({@link #prefix()}). The forward is the base model's
 * own, run through the wrappers. Not thread-safe.
 */
public abstract class BaseTuner implements TunerModel {
    private static final Logger LOG = LoggerFactory.getLogger(BaseTuner.class);
    /** The prefix of saved keys: {@code PeftModel.base_model} then {@code LoraModel.model}. */
    public static final String KEY_PREFIX = "base_model.model.";

    protected final PreTrainedModel model;
    protected final LinkedHashMap<String, PeftConfig> peftConfig = new LinkedHashMap<>();
    protected List<String> activeAdapters = new ArrayList<>();

    protected BaseTuner(PreTrainedModel model) {
        this.model = model;
    }

    /** The base model, with wrapper layers injected. */
    @Override
    public PreTrainedModel model() {
        return model;
    }

    /** Adapter configs by adapter name, in the order the adapters were added. */
    @Override
    public Map<String, PeftConfig> peftConfig() {
        return peftConfig;
    }

    /** The active adapters. */
    @Override
    public List<String> activeAdapters() {
        return new ArrayList<>(activeAdapters);
    }

    /** The prefix of this method's parameter names ({@code "lora_"}). */
    public abstract String prefix();

    /** The base model's parameters (wrappers and adapters included) prefixed with {@link #KEY_PREFIX}. */
    @Override
    public LinkedHashMap<String, Parameter> namedParameters() {
        LinkedHashMap<String, Parameter> out = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : model.namedParameters().entrySet()) {
            out.put(KEY_PREFIX + e.getKey(), e.getValue());
        }
        return out;
    }

    // ------------------------------------------------------------------ injection

    /**
     * Checks a new adapter's config against the existing ones (e.g. at most one adapter with a bias).
     *
     * @throws IllegalArgumentException with PEFT's message
     */
    protected void checkNewAdapterConfig(PeftConfig config) {
    }

    /** Completes the config for this model: default targets, {@code all-linear} expansion. */
    protected abstract void prepareAdapterConfig(TunerConfig config);

    /**
     * Wraps (or updates) the matched module {@code target} at {@code key} with adapter {@code adapterName}.
     *
     * @param parent the module holding {@code target} as child {@code childName}
     */
    protected abstract void createAndReplace(TunerConfig config, String adapterName, Layer target, String key,
            Module parent, String childName);

    /** Marks trainable exactly the parameters the adapters train (the rest of the model is frozen). */
    protected abstract void markOnlyAdaptersAsTrainable();

    /**
     * Adds adapter {@code adapterName}: wraps every matched module, wraps {@code modules_to_save}, and freezes what
     * the adapter does not train. The first adapter becomes active; later ones are added inactive.
     *
     * @throws IllegalArgumentException with PEFT's messages when no module matches
     */
    @Override
    public void injectAdapter(String adapterName, PeftConfig config) {
        if (!(config instanceof TunerConfig)) {
            throw new IllegalArgumentException("a " + getClass().getSimpleName() + " needs a TunerConfig, got "
                    + config.getClass().getSimpleName());
        }
        TunerConfig cfg = (TunerConfig) config;
        checkNewAdapterConfig(cfg);
        prepareAdapterConfig(cfg);
        peftConfig.put(adapterName, cfg);
        if (activeAdapters.isEmpty()) {
            activeAdapters.add(adapterName);
        }
        boolean anyMatch = false;
        boolean anyExcluded = false;
        try {
            List<String> inside = new ArrayList<>();
            for (Map.Entry<String, Module> e : new ArrayList<>(model.namedModules().entrySet())) {
                String key = e.getKey();
                if (key.isEmpty() || isInside(inside, key)) {
                    continue;
                }
                Module m = e.getValue();
                if (m instanceof BaseTunerLayer || m instanceof ModulesToSaveWrapper) {
                    inside.add(key);
                }
                if (cfg.modulesToSave() != null && TargetMatcher.matchesNameOrSuffix(cfg.modulesToSave(), key)) {
                    wrapModuleToSave(key, m, adapterName);
                    inside.add(key);
                    continue;
                }
                if (m instanceof ModulesToSaveWrapper) {
                    continue;
                }
                TargetMatcher.Result r = TargetMatcher.check(cfg, key);
                if (r == TargetMatcher.Result.EXCLUDED) {
                    anyExcluded = true;
                } else if (r == TargetMatcher.Result.MATCHED) {
                    if (!(m instanceof Layer)) {
                        throw new IllegalArgumentException("Target module " + m.typeName() + " (" + key + ") is not "
                                + "supported. Currently, only the following modules are supported: `Linear`, "
                                + "`Embedding`, `Conv1D`.");
                    }
                    int dot = key.lastIndexOf('.');
                    Module parent = dot < 0 ? model : model.getSubmodule(key.substring(0, dot));
                    createAndReplace(cfg, adapterName, (Layer) m, key, parent, key.substring(dot + 1));
                    anyMatch = true;
                    inside.add(key);
                }
            }
            if (!anyMatch) {
                throw noMatchError(cfg, anyExcluded);
            }
            if (cfg.excludeModules() != null && !anyExcluded) {
                LOG.warn("You have passed exclude_modules={} but no modules were excluded. Please check that "
                        + "exclude_modules was set correctly.", PyRepr.set(cfg.excludeModules()));
            }
        } catch (RuntimeException e) {
            peftConfig.remove(adapterName);
            activeAdapters.remove(adapterName);
            throw e;
        }
        markOnlyAdaptersAsTrainable();
        // as PEFT's inject_adapter: the active adapters are set again with the new adapter's inference_mode, so
        // adding a frozen adapter (load_adapter with is_trainable=False) does not make the active ones trainable
        setAdapterLayers(activeAdapters, cfg.inferenceMode());
        if (cfg.inferenceMode()) {
            freezeAdapter(adapterName);
        }
    }

    private static boolean isInside(List<String> prefixes, String key) {
        for (String p : prefixes) {
            if (key.startsWith(p + ".")) {
                return true;
            }
        }
        return false;
    }

    private void wrapModuleToSave(String key, Module m, String adapterName) {
        if (m instanceof ModulesToSaveWrapper) {
            ((ModulesToSaveWrapper) m).update(adapterName);
            return;
        }
        if (!(m instanceof Layer)) {
            throw new IllegalArgumentException("modules_to_save: module '" + key + "' (" + m.typeName()
                    + ") cannot be wrapped; only layers (Linear, Embedding, norms, ...) are supported");
        }
        model.setSubmodule(key, new ModulesToSaveWrapper((Layer) m, adapterName));
    }

    private static IllegalArgumentException noMatchError(TunerConfig cfg, boolean anyExcluded) {
        String notes = "";
        if (cfg.layersToTransform() != null) {
            notes += " Note: You specified 'layers_to_transform': " + PyRepr.list(cfg.layersToTransform()) + ".";
        }
        if (cfg.layersPattern() != null) {
            notes += " You also specified 'layers_pattern': " + PyRepr.list(cfg.layersPattern()) + ".";
        }
        if (cfg.targetModules() instanceof Collection && ((Collection<?>) cfg.targetModules()).isEmpty()) {
            return new IllegalArgumentException("No `target_modules` passed but also no `target_parameters` found. "
                    + "Please check the values for these arguments.");
        }
        if (anyExcluded) {
            return new IllegalArgumentException("No modules were targeted for adaptation. This might be caused by a "
                    + "combination of mismatched target modules and excluded modules. Please check your "
                    + "`target_modules` and `exclude_modules` configuration. You may also have only targeted modules "
                    + "that are marked to be saved (`modules_to_save`)." + notes);
        }
        return new IllegalArgumentException("Target modules " + PyRepr.set(cfg.targetModules()) + " not found in the base "
                + "model. Please check the target modules and try again." + notes);
    }

    /** Freezes every parameter of adapter {@code name} ({@code inference_mode}). */
    protected void freezeAdapter(String name) {
        for (Map.Entry<String, Parameter> e : model.namedParameters().entrySet()) {
            if (belongsToAdapter(e.getKey(), name)) {
                e.getValue().setTrainable(false);
            }
        }
    }

    /** Whether the dotted parameter name is one of adapter {@code name}'s own parameters. */
    public boolean belongsToAdapter(String key, String name) {
        boolean adapterKey = key.contains("." + name + ".") || key.endsWith("." + name);
        return adapterKey && (key.contains(prefix()) || key.contains(".modules_to_save." + name));
    }

    // ------------------------------------------------------------------ layers

    private void setAdapterLayers(List<String> names, boolean inferenceMode) {
        for (BaseTunerLayer l : tunerLayers().values()) {
            l.setAdapter(names, inferenceMode);
        }
        for (ModulesToSaveWrapper w : modulesToSaveWrappers().values()) {
            List<String> own = new ArrayList<>();
            for (String n : names) {
                if (w.adapterNames().contains(n)) {
                    own.add(n);
                }
            }
            w.setAdapter(own, inferenceMode);
        }
    }

    /**
     * Activates one or several adapters (their weights become trainable, the others are frozen). A merged model is
     * unmerged first, with PEFT's warning.
     *
     * @throws IllegalArgumentException if a name is unknown
     */
    @Override
    public void setAdapter(List<String> names) {
        for (String n : names) {
            if (!peftConfig.containsKey(n)) {
                throw new IllegalArgumentException("Adapter " + n + " not found.");
            }
        }
        for (BaseTunerLayer l : tunerLayers().values()) {
            if (l.merged()) {
                LOG.warn("Adapter cannot be set when the model is merged. Unmerging the model first.");
                unmergeAdapter();
                break;
            }
        }
        setAdapterLayers(names, false);
        activeAdapters = new ArrayList<>(names);
    }

    /** Enables or disables every adapter layer (disabled layers emit the base path only). */
    @Override
    public void enableAdapterLayers(boolean enabled) {
        if (!enabled) {
            for (String a : activeAdapters) {
                PeftConfig c = peftConfig.get(a);
                String bias = biasOf(c);
                if (bias != null && !"none".equals(bias)) {
                    LOG.warn("Careful, disabling adapter layers with bias configured to be '{}' does not produce the "
                            + "same output as the base model would without adaption.", bias);
                }
            }
        }
        for (BaseTunerLayer l : tunerLayers().values()) {
            l.enableAdapters(enabled);
        }
        for (ModulesToSaveWrapper w : modulesToSaveWrappers().values()) {
            w.enableAdapters(enabled);
        }
    }

    /** The config's {@code bias} mode, or null for methods without one. */
    protected String biasOf(PeftConfig c) {
        return null;
    }

    /**
     * Deletes an adapter from every layer. If it was active, the remaining active adapters stay; if none remain the
     * alphabetically first adapter is activated, with PEFT's warning.
     *
     * @throws IllegalArgumentException for an unknown name or a merged adapter
     */
    @Override
    public void deleteAdapter(String name) {
        if (!peftConfig.containsKey(name)) {
            throw new IllegalArgumentException("Adapter " + name + " does not exist");
        }
        List<String> mergedNames = new ArrayList<>();
        for (BaseTunerLayer l : tunerLayers().values()) {
            if (l.mergedAdapters().contains(name) && !mergedNames.contains(name)) {
                mergedNames.add(name);
            }
        }
        if (!mergedNames.isEmpty()) {
            throw new IllegalArgumentException("Cannot delete adapter(s) " + PyRepr.list(mergedNames)
                    + " while they are merged. Please unmerge them first.");
        }
        peftConfig.remove(name);
        for (BaseTunerLayer l : tunerLayers().values()) {
            l.deleteAdapter(name);
        }
        for (ModulesToSaveWrapper w : modulesToSaveWrappers().values()) {
            w.deleteAdapter(name);
        }
        List<String> remaining = new ArrayList<>(activeAdapters);
        remaining.remove(name);
        if (remaining.isEmpty() && activeAdapters.contains(name) && !peftConfig.isEmpty()) {
            String next = new TreeSet<>(peftConfig.keySet()).first();
            LOG.warn("Adapter {} was active which is now deleted. Setting active adapter to {}.", name, next);
            remaining.add(next);
        }
        activeAdapters = remaining;
        setAdapterLayers(activeAdapters, false);
    }

    // ------------------------------------------------------------------ merging

    /**
     * Merges adapters into the base weights, keeping the adapter weights (so {@link #unmergeAdapter()} can undo it).
     *
     * @param adapterNames adapters to merge; null means the active ones
     */
    @Override
    public void mergeAdapter(List<String> adapterNames, boolean safeMerge) {
        checkMergeAllowed();
        for (BaseTunerLayer l : tunerLayers().values()) {
            l.merge(safeMerge, adapterNames);
        }
    }

    /** Undoes all merges, last merged first. */
    @Override
    public void unmergeAdapter() {
        for (BaseTunerLayer l : tunerLayers().values()) {
            l.unmerge();
        }
    }

    /** Throws when merging is impossible (e.g. replicated layers). */
    protected void checkMergeAllowed() {
    }

    /**
     * Merges adapters into the base weights and removes every wrapper: the model gets back its original
     * architecture, with {@code modules_to_save} modules replaced by the active adapter's trained copy.
     *
     * @param adapterNames adapters to merge; null means the active ones
     */
    @Override
    public PreTrainedModel mergeAndUnload(boolean safeMerge, List<String> adapterNames) {
        checkMergeAllowed();
        return unloadAndOptionallyMerge(true, safeMerge, adapterNames);
    }

    /** Removes every wrapper without merging: the original base model. */
    @Override
    public PreTrainedModel unload() {
        return unloadAndOptionallyMerge(false, false, null);
    }

    private PreTrainedModel unloadAndOptionallyMerge(boolean merge, boolean safeMerge, List<String> names) {
        for (Map.Entry<String, BaseTunerLayer> e : tunerLayers().entrySet()) {
            BaseTunerLayer l = e.getValue();
            if (merge) {
                l.merge(safeMerge, names);
            }
            model.setSubmodule(e.getKey(), l.baseLayer());
        }
        for (Map.Entry<String, ModulesToSaveWrapper> e : modulesToSaveWrappers().entrySet()) {
            model.setSubmodule(e.getKey(), e.getValue().current());
        }
        peftConfig.clear();
        activeAdapters.clear();
        return model;
    }

    // ------------------------------------------------------------------ state dicts

    /** Parameter names (dotted, in the inner model) and values that adapter {@code name} saves, before renaming. */
    protected abstract LinkedHashMap<String, Tensor> rawAdapterStateDict(String name);

    /**
     * The adapter's weights under the keys PEFT saves ({@code get_peft_model_state_dict}): prefixed with
     * {@code base_model.model.}, the adapter name removed, {@code modules_to_save} copies under the wrapped module's
     * own name.
     */
    @Override
    public LinkedHashMap<String, Tensor> adapterStateDict(String name) {
        if (!peftConfig.containsKey(name)) {
            throw new IllegalArgumentException("Adapter " + name + " does not exist");
        }
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : rawAdapterStateDict(name).entrySet()) {
            out.put(KEY_PREFIX + toSavedKey(e.getKey(), name), e.getValue());
        }
        for (Map.Entry<String, ModulesToSaveWrapper> w : modulesToSaveWrappers().entrySet()) {
            Module copy = w.getValue().copies().get(name);
            if (copy == null) {
                continue;
            }
            for (Map.Entry<String, Tensor> e : copy.stateDict().entrySet()) {
                out.put(KEY_PREFIX + w.getKey() + "." + e.getKey(), e.getValue());
            }
        }
        return out;
    }

    /** The saved form of an in-memory key: the adapter name removed ({@link AdapterKeys#removeAdapterName}). */
    protected String toSavedKey(String key, String name) {
        return AdapterKeys.removeAdapterName(key, name);
    }

    /** The in-memory form of a saved key (inner-model name, adapter name inserted), or null to skip it. */
    protected abstract String toMemoryKey(String savedKey, String name);

    /**
     * Loads saved weights into adapter {@code name} ({@code set_peft_model_state_dict}).
     *
     * @return the adapter's parameters that the file did not provide (PEFT's in-model names, with the adapter name),
     *     and the file's keys, as written in the file, that matched nothing
     */
    @Override
    public Module.LoadResult loadAdapterStateDict(Map<String, Tensor> saved, String name) {
        Map<String, Module> wrappers = new LinkedHashMap<>(modulesToSaveWrappers());
        Map<String, Tensor> inMemory = new LinkedHashMap<>();
        Map<String, String> fileKeyOf = new LinkedHashMap<>();
        List<String> unexpected = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : saved.entrySet()) {
            String k = e.getKey().startsWith(KEY_PREFIX) ? e.getKey().substring(KEY_PREFIX.length()) : e.getKey();
            String mem = null;
            for (String w : wrappers.keySet()) {
                if (k.startsWith(w + ".")) {
                    mem = w + ".modules_to_save." + name + k.substring(w.length());
                    break;
                }
            }
            if (mem == null) {
                mem = toMemoryKey(k, name);
            }
            if (mem == null) {
                unexpected.add(e.getKey());
            } else {
                inMemory.put(mem, e.getValue());
                fileKeyOf.put(mem, e.getKey());
            }
        }
        Module.LoadResult r = model.loadStateDict(inMemory, false);
        for (String k : r.unexpectedKeys()) {
            // reported as the file names them, not by the in-memory name they were mapped to
            unexpected.add(fileKeyOf.getOrDefault(k, k));
        }
        List<String> missing = new ArrayList<>();
        for (String k : r.missingKeys()) {
            if (belongsToAdapter(k, name)) {
                missing.add(KEY_PREFIX + k);
            }
        }
        return new Module.LoadResult(missing, unexpected);
    }

    /** Names of all adapter parameter keys in the model, for tests and diagnostics. */
    public Set<String> adapterParameterNames(String name) {
        Set<String> out = new LinkedHashSet<>();
        for (String k : model.namedParameters().keySet()) {
            if (belongsToAdapter(k, name)) {
                out.add(k);
            }
        }
        return out;
    }
}
