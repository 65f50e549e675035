package org.peft4j.lora;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.peft4j.graph.Parameter;
import org.peft4j.nn.Dropout;
import org.peft4j.nn.Identity;
import org.peft4j.nn.Layer;
import org.peft4j.nn.Module;
import org.peft4j.nn.ModuleDict;
import org.peft4j.nn.ParameterDict;
import org.peft4j.peft.tuners.BaseTunerLayer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * State shared by LoRA wrapper layers ({@code LoraLayer}): the wrapped {@code base_layer} and per-adapter
 * {@code lora_dropout}, {@code lora_A}, {@code lora_B}, {@code lora_embedding_A}, {@code lora_embedding_B} and
 * {@code lora_magnitude_vector} containers, with the names PEFT gives them, plus ranks, alphas, scalings, variants
 * and the merge stack.
 *
 * <p>Other modules extend LoRA by subclassing the layers ({@link LoraLinear} works on any
 * {@link org.peft4j.nn.LinearLike} base) and creating them from a {@link LoraDispatcher}.
 */
public abstract class LoraLayer extends Layer implements BaseTunerLayer {
    private static final Logger LOG = LoggerFactory.getLogger(LoraLayer.class);

    /** Rank per adapter. */
    protected final Map<String, Integer> r = new LinkedHashMap<>();
    /** Alpha per adapter. */
    protected final Map<String, Double> loraAlpha = new LinkedHashMap<>();
    /** Scaling per adapter. */
    protected final Map<String, Double> scaling = new LinkedHashMap<>();
    /** The variant of each adapter that has one ({@code lora_variant}). */
    protected final Map<String, LoraVariant> loraVariant = new LinkedHashMap<>();
    /** Whether each adapter uses rslora. */
    protected final Map<String, Boolean> useRslora = new LinkedHashMap<>();
    /** Whether each adapter has a {@code lora_B} bias. */
    protected final Map<String, Boolean> loraBias = new LinkedHashMap<>();
    /** The active adapters (set by the tuner before an adapter is added). */
    protected List<String> active = new ArrayList<>();
    /** The merged adapters, in merge order. */
    protected final List<String> merged = new ArrayList<>();
    private final Map<String, Object> cache = new HashMap<>();
    private boolean disabled;
    private Map<Parameter, Boolean> trainableBeforeDisable;

    /** Wraps {@code base} as {@code base_layer}, with empty adapter containers. */
    protected LoraLayer(Layer base) {
        registerModule("base_layer", base);
        registerModule("lora_dropout", new ModuleDict());
        registerModule("lora_A", new ModuleDict());
        registerModule("lora_B", new ModuleDict());
        registerModule("lora_embedding_A", new ParameterDict());
        registerModule("lora_embedding_B", new ParameterDict());
        registerModule("lora_magnitude_vector", new ModuleDict());
    }

    @Override
    protected void afterCopy(Module original) {
        throw new UnsupportedOperationException("LoRA layers cannot be deep-copied");
    }

    @Override
    public Layer baseLayer() {
        return (Layer) child("base_layer");
    }

    /**
     * Adds (or replaces) adapter {@code spec.name()} ({@code update_layer}): records rank, alpha, scaling and
     * variant, creates and initialises the adapter weights, and sets their trainable flags from the active adapters.
     *
     * @throws IllegalArgumentException for a rank below 1, or an option or variant this layer does not support
     */
    public abstract void updateLayer(LoraAdapterSpec spec);

    ModuleDict loraDropout() {
        return (ModuleDict) child("lora_dropout");
    }

    ModuleDict loraA() {
        return (ModuleDict) child("lora_A");
    }

    ModuleDict loraB() {
        return (ModuleDict) child("lora_B");
    }

    ParameterDict loraEmbeddingA() {
        return (ParameterDict) child("lora_embedding_A");
    }

    ParameterDict loraEmbeddingB() {
        return (ParameterDict) child("lora_embedding_B");
    }

    ModuleDict magnitude() {
        return (ModuleDict) child("lora_magnitude_vector");
    }

    /** The rank of each adapter. */
    public Map<String, Integer> r() {
        return r;
    }

    /** The alpha of each adapter. */
    public Map<String, Double> loraAlpha() {
        return loraAlpha;
    }

    /** The scaling of each adapter: alpha / r, or alpha / sqrt(r) with rslora. */
    public Map<String, Double> scaling() {
        return scaling;
    }

    /** The variant of each adapter that has one (PEFT's {@code lora_variant}); plain LoRA adapters have none. */
    public Map<String, LoraVariant> loraVariant() {
        return loraVariant;
    }

    /** Whether adapter {@code name} has a {@code lora_B} bias ({@code lora_bias}). */
    public boolean loraBias(String name) {
        return Boolean.TRUE.equals(loraBias.get(name));
    }

    /** Remembers {@code value} under {@code key} (PEFT's {@code _cache_store}), e.g. what an unmerge needs. */
    public void cacheStore(String key, Object value) {
        cache.put(key, value);
    }

    /**
     * Removes and returns what {@link #cacheStore} kept under {@code key} (PEFT's {@code _cache_pop}).
     *
     * @throws IllegalStateException if nothing is stored under {@code key}
     */
    @SuppressWarnings("unchecked")
    public <T> T cachePop(String key) {
        if (!cache.containsKey(key)) {
            throw new IllegalStateException("no cached value '" + key + "'");
        }
        return (T) cache.remove(key);
    }

    /** Sets scaling to {@code scale * alpha / r} (rslora-aware), as {@code set_scale}. */
    public void setScale(String adapter, double scale) {
        if (scaling.containsKey(adapter)) {
            scaling.put(adapter, scale * defaultScaling(adapter));
        }
    }

    double defaultScaling(String adapter) {
        int rank = r.get(adapter);
        return useRslora.get(adapter) ? loraAlpha.get(adapter) / Math.sqrt(rank) : loraAlpha.get(adapter) / rank;
    }

    /**
     * Records the adapter's rank, alpha, rslora, scaling, variant and {@code lora_bias} and creates its dropout
     * (the part of {@code update_layer} common to all layers).
     *
     * @throws IllegalArgumentException with PEFT's message for a rank below 1
     */
    protected void putCommon(LoraAdapterSpec spec) {
        String adapter = spec.name();
        int rank = spec.r();
        double alpha = spec.alpha();
        double dropout = spec.dropout();
        if (rank <= 0) {
            throw new IllegalArgumentException("`r` should be a positive integer value but the value passed is "
                    + rank);
        }
        r.put(adapter, rank);
        loraAlpha.put(adapter, alpha);
        useRslora.put(adapter, spec.rslora());
        scaling.put(adapter, defaultScaling(adapter));
        if (spec.variant() == null) {
            loraVariant.remove(adapter);
        } else {
            loraVariant.put(adapter, spec.variant());
        }
        loraBias.put(adapter, spec.loraBias());
        loraDropout().put(adapter, dropout > 0 ? new Dropout(dropout) : new Identity());
    }

    /** The active, merged and held adapters and the disabled flag: what decides the nodes {@code forward} emits. */
    @Override
    public Object forwardState() {
        return java.util.Arrays.asList(java.util.List.copyOf(activeAdapters()), disabled(),
                java.util.List.copyOf(mergedAdapters()), java.util.List.copyOf(adapterNames()));
    }

    @Override
    public Set<String> adapterNames() {
        return new LinkedHashSet<>(r.keySet());
    }

    @Override
    public List<String> activeAdapters() {
        return new ArrayList<>(active);
    }

    /** The parameters of adapter {@code name} in this layer. */
    List<Parameter> adapterParameters(String name) {
        List<Parameter> out = new ArrayList<>();
        for (String dict : List.of("lora_A", "lora_B", "lora_magnitude_vector")) {
            Module m = ((ModuleDict) child(dict)).get(name);
            if (m != null) {
                out.addAll(m.parameters());
            }
        }
        for (String dict : List.of("lora_embedding_A", "lora_embedding_B")) {
            Parameter p = ((ParameterDict) child(dict)).get(name);
            if (p != null) {
                out.add(p);
            }
        }
        return out;
    }

    @Override
    public void setAdapter(List<String> names, boolean inferenceMode) {
        for (String a : r.keySet()) {
            boolean on = names.contains(a) && !inferenceMode;
            for (Parameter p : adapterParameters(a)) {
                p.setTrainable(on);
            }
        }
        active = new ArrayList<>(names);
    }

    @Override
    public void enableAdapters(boolean enabled) {
        if (enabled == !disabled) {
            return;
        }
        if (!enabled) {
            // PEFT freezes the adapter weights while disabled; remember the flags to restore them exactly
            trainableBeforeDisable = new IdentityHashMap<>();
            for (String a : r.keySet()) {
                for (Parameter p : adapterParameters(a)) {
                    trainableBeforeDisable.put(p, p.trainable());
                    p.setTrainable(false);
                }
            }
        } else if (trainableBeforeDisable != null) {
            trainableBeforeDisable.forEach(Parameter::setTrainable);
            trainableBeforeDisable = null;
        }
        disabled = !enabled;
    }

    @Override
    public boolean disabled() {
        return disabled;
    }

    @Override
    public List<String> mergedAdapters() {
        return new ArrayList<>(merged);
    }

    /** The adapters to merge: {@code names}, or the active ones present in this layer. */
    protected List<String> toMerge(List<String> names) {
        List<String> want = names == null ? active : names;
        List<String> out = new ArrayList<>();
        List<String> already = new ArrayList<>();
        for (String a : want) {
            if (!r.containsKey(a)) {
                continue;
            }
            if (merged.contains(a)) {
                already.add(a);
            } else {
                out.add(a);
            }
        }
        if (!already.isEmpty()) {
            if (out.isEmpty()) {
                LOG.warn("All adapters are already merged, nothing to do.");
            } else {
                LOG.warn("Already following adapters were merged {}. You are now additionally merging {}.",
                        String.join(",", merged), String.join(",", out));
            }
        }
        return out;
    }

    @Override
    public void unmerge() {
        if (merged.isEmpty()) {
            LOG.warn("Already unmerged. Nothing to do.");
            return;
        }
        while (!merged.isEmpty()) {
            unmergeOne(merged.remove(merged.size() - 1));
        }
    }

    /** Removes merged adapter {@code adapter} from the base layer's weights. */
    protected abstract void unmergeOne(String adapter);

    @Override
    public void deleteAdapter(String name) {
        for (String dict : List.of("lora_dropout", "lora_A", "lora_B", "lora_magnitude_vector")) {
            ((ModuleDict) child(dict)).remove(name);
        }
        loraEmbeddingA().remove(name);
        loraEmbeddingB().remove(name);
        r.remove(name);
        loraAlpha.remove(name);
        scaling.remove(name);
        loraVariant.remove(name);
        useRslora.remove(name);
        loraBias.remove(name);
        active.remove(name);
    }
}
