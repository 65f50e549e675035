package org.peft4j.lora;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.peft4j.graph.Parameter;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.nn.Conv1D;
import org.peft4j.nn.Embedding;
import org.peft4j.nn.Layer;
import org.peft4j.nn.Linear;
import org.peft4j.nn.LinearLike;
import org.peft4j.nn.Module;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.peft.tuners.BaseTuner;
import org.peft4j.peft.tuners.BaseTunerLayer;
import org.peft4j.peft.tuners.TunerConfig;
import org.peft4j.tensor.Tensor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * LoRA's tuner ({@code LoraModel}): wraps matched {@link Linear}, GPT-2 {@link Conv1D} and {@link Embedding} layers
 * (and, through {@linkplain #registerDispatcher dispatchers}, other layer types) with LoRA layers, applies the bias modes, names saved weights as PEFT does, and combines adapters
 * ({@link #addWeightedAdapter}).
 */
public class LoraModel extends BaseTuner {
    private static final Logger LOG = LoggerFactory.getLogger(LoraModel.class);

    /** PEFT's {@code TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING} (the entries for decoder models). */
    public static final Map<String, List<String>> DEFAULT_TARGET_MODULES = new LinkedHashMap<>();

    static {
        for (String t : List.of("llama", "llama4", "mistral", "mixtral", "qwen2", "qwen3", "opt", "bart", "gptj",
                "gpt_neo", "gemma", "gemma2", "gemma3_text", "stablelm")) {
            DEFAULT_TARGET_MODULES.put(t, List.of("q_proj", "v_proj"));
        }
        DEFAULT_TARGET_MODULES.put("gpt2", List.of("c_attn"));
        DEFAULT_TARGET_MODULES.put("gpt_bigcode", List.of("c_attn"));
        DEFAULT_TARGET_MODULES.put("chatglm", List.of("query_key_value"));
        for (String t : List.of("bloom", "gpt_neox", "falcon", "RefinedWeb", "RefinedWebModel")) {
            DEFAULT_TARGET_MODULES.put(t, List.of("query_key_value"));
        }
        DEFAULT_TARGET_MODULES.put("t5", List.of("q", "v"));
        DEFAULT_TARGET_MODULES.put("mt5", List.of("q", "v"));
        for (String t : List.of("bert", "roberta", "xlm-roberta", "electra", "layoutlm")) {
            DEFAULT_TARGET_MODULES.put(t, List.of("query", "value"));
        }
        DEFAULT_TARGET_MODULES.put("phi", List.of("q_proj", "v_proj", "fc1", "fc2"));
        DEFAULT_TARGET_MODULES.put("mpt", List.of("Wqkv"));
        DEFAULT_TARGET_MODULES.put("codegen", List.of("qkv_proj"));
        DEFAULT_TARGET_MODULES.put("deberta", List.of("in_proj"));
        DEFAULT_TARGET_MODULES.put("deberta-v2", List.of("query_proj", "value_proj"));
    }

    /** PEFT's {@code EMBEDDING_LAYER_NAMES}. */
    static final List<String> EMBEDDING_LAYER_NAMES = List.of("embed_tokens", "lm_head");

    private Random rng = new Random(0);

    LoraModel(PreTrainedModel model) {
        super(model);
    }

    /** Seeds the generator used to initialise new adapters' weights (reproducible runs). */
    public LoraModel seed(long seed) {
        this.rng = new Random(seed);
        return this;
    }

    @Override
    public String prefix() {
        return "lora_";
    }

    @Override
    protected String biasOf(PeftConfig c) {
        return ((LoraConfig) c).bias();
    }

    @Override
    protected void checkNewAdapterConfig(PeftConfig config) {
        if (!(config instanceof LoraConfig)) {
            throw new IllegalArgumentException("LoraModel needs a LoraConfig, got " + config.getClass().getSimpleName());
        }
        int withBias = "none".equals(((LoraConfig) config).bias()) ? 0 : 1;
        for (PeftConfig c : peftConfig.values()) {
            if (!"none".equals(((LoraConfig) c).bias())) {
                withBias++;
            }
        }
        if (withBias > 1) {
            throw new IllegalArgumentException("LoraModel supports only 1 adapter with bias. When using multiple "
                    + "adapters, set bias to 'none' for all adapters.");
        }
    }

    @Override
    protected void prepareAdapterConfig(TunerConfig config) {
        if (config.targetModules() == null) {
            List<String> d = DEFAULT_TARGET_MODULES.get(model.config().modelType());
            if (d == null) {
                throw new IllegalArgumentException("Please specify `target_modules` or `target_parameters`in "
                        + "`peft_config`");
            }
            config.setTargetModules(d);
        }
        if (config.targetModules() instanceof String
                && TunerConfig.ALL_LINEAR.equalsIgnoreCase((String) config.targetModules())) {
            Set<String> names = new LinkedHashSet<>();
            String out = model.outputEmbeddingsName();
            for (Map.Entry<String, Module> e : model.namedModules().entrySet()) {
                Module m = e.getValue();
                boolean linear = m instanceof LinearLike || m instanceof LoraLinear;
                if (linear && !e.getKey().equals(out) && !insideTunerLayer(e.getKey())) {
                    names.add(e.getKey());
                }
            }
            config.setTargetModules(names);
        }
        if (config.targetModules() instanceof Set && ((Set<?>) config.targetModules()).size() >= 20) {
            Set<String> minimal = MinimalTargets.find(config, model.namedModules().keySet());
            if (minimal.size() < ((Set<?>) config.targetModules()).size()) {
                config.setTargetModules(minimal);
            }
        }
    }

    private boolean insideTunerLayer(String key) {
        for (Map.Entry<String, Module> e : model.namedModules().entrySet()) {
            if (e.getValue() instanceof BaseTunerLayer && key.startsWith(e.getKey() + ".")) {
                return true;
            }
        }
        return false;
    }

    @Override
    protected void createAndReplace(TunerConfig config, String adapterName, Layer target, String key, Module parent,
            String childName) {
        LoraConfig cfg = (LoraConfig) config;
        LoraAdapterSpec spec = LoraAdapterSpec.fromConfig(cfg, adapterName, key, rng);
        LoraLayer layer = target instanceof LoraLayer ? (LoraLayer) target : createNewModule(cfg, adapterName, target,
                spec);
        layer.active = new ArrayList<>(activeAdapters);
        layer.updateLayer(spec);
        if (layer != target) {
            model.setSubmodule(key, layer);
        }
    }

    /** The first dispatcher's layer for {@code target} ({@code _create_new_module}). */
    static LoraLayer createNewModule(LoraConfig cfg, String adapterName, Layer target, LoraAdapterSpec spec) {
        for (LoraDispatcher d : dispatchers()) {
            LoraLayer layer = d.dispatch(target, adapterName, cfg, spec);
            if (layer != null) {
                return layer;
            }
        }
        throw new IllegalArgumentException("Target module " + target + " is not supported. Currently, only the "
                + "following modules are supported: `Linear`, `Embedding`, `Conv1D` (GPT-2).");
    }

    // ------------------------------------------------------------------ dispatchers

    /**
     * Adds a dispatcher that creates LoRA layers for module types LoRA does not know (e.g. quantized linear layers).
     * Registered dispatchers are asked first, in registration order, then those found by {@link ServiceLoader}, then
     * {@link DefaultLoraDispatcher}; the first that returns a layer wins.
     */
    public static void registerDispatcher(LoraDispatcher dispatcher) {
        REGISTERED.add(Objects.requireNonNull(dispatcher, "dispatcher"));
    }

    /** Removes a dispatcher added by {@link #registerDispatcher}; returns whether it was registered. */
    public static boolean unregisterDispatcher(LoraDispatcher dispatcher) {
        return REGISTERED.remove(dispatcher);
    }

    /** The dispatchers in the order they are asked: registered, then service-loaded, then the default. */
    public static List<LoraDispatcher> dispatchers() {
        List<LoraDispatcher> out = new ArrayList<>(REGISTERED);
        out.addAll(ServiceDispatchers.LOADED);
        out.add(DefaultLoraDispatcher.INSTANCE);
        return Collections.unmodifiableList(out);
    }

    private static final List<LoraDispatcher> REGISTERED = new CopyOnWriteArrayList<>();

    /** The {@code META-INF/services/org.peft4j.lora.LoraDispatcher} entries, loaded once. */
    private static final class ServiceDispatchers {
        static final List<LoraDispatcher> LOADED;

        static {
            List<LoraDispatcher> found = new ArrayList<>();
            for (LoraDispatcher d : ServiceLoader.load(LoraDispatcher.class, LoraDispatcher.class.getClassLoader())) {
                found.add(d);
            }
            LOADED = Collections.unmodifiableList(found);
        }
    }

    @Override
    protected void markOnlyAdaptersAsTrainable() {
        for (Map.Entry<String, Parameter> e : model.namedParameters().entrySet()) {
            String k = e.getKey();
            if (!k.contains(prefix()) && !k.contains(".modules_to_save.")) {
                e.getValue().setTrainable(false);
            }
        }
        for (String a : activeAdapters) {
            String bias = ((LoraConfig) peftConfig.get(a)).bias();
            if ("all".equals(bias)) {
                for (Map.Entry<String, Parameter> e : model.namedParameters().entrySet()) {
                    String k = e.getKey();
                    if ((k.equals("bias") || k.endsWith(".bias")) && !k.contains(prefix()) && !isAuxiliary(k)) {
                        e.getValue().setTrainable(true);
                    }
                }
            } else if ("lora_only".equals(bias)) {
                for (BaseTunerLayer l : tunerLayers().values()) {
                    Parameter b = l.baseLayer().parameter("bias");
                    if (b != null) {
                        b.setTrainable(true);
                    }
                }
            }
        }
    }

    private static boolean isAuxiliary(String key) {
        return key.contains(".modules_to_save.") || key.contains(".original_module.");
    }

    @Override
    protected LinkedHashMap<String, Tensor> rawAdapterStateDict(String name) {
        String bias = ((LoraConfig) peftConfig.get(name)).bias();
        Set<String> loraOnlyBiases = new LinkedHashSet<>();
        if ("lora_only".equals(bias)) {
            for (Map.Entry<String, BaseTunerLayer> e : tunerLayers().entrySet()) {
                if (e.getValue().baseLayer().parameter("bias") != null) {
                    loraOnlyBiases.add(e.getKey() + ".base_layer.bias");
                }
            }
        }
        // save_embedding_layers="auto": a targeted input/output embedding is saved in full
        Set<String> embeddingModules = new LinkedHashSet<>();
        Object targets = peftConfig.get(name) instanceof LoraConfig
                ? ((LoraConfig) peftConfig.get(name)).targetModules() : null;
        if (targets instanceof Set) {
            for (String n : List.of(model.inputEmbeddingsName(), model.outputEmbeddingsName())) {
                String last = n.substring(n.lastIndexOf('.') + 1);
                if (EMBEDDING_LAYER_NAMES.contains(last) && ((Set<?>) targets).contains(last)
                        && model.getSubmodule(n) instanceof LoraLayer) {
                    embeddingModules.add(n + ".");
                }
            }
            if (!embeddingModules.isEmpty()) {
                LOG.warn("Setting `save_embedding_layers` to `True` as embedding layers found in `target_modules`.");
            }
        }
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : model.namedParameters(false).entrySet()) {
            String k = e.getKey();
            boolean keep;
            if (!k.contains(prefix()) && embeddingModules.stream().anyMatch(k::startsWith)) {
                keep = true;
            } else if (k.contains(prefix())) {
                keep = belongsToAdapter(k, name);
            } else if ("all".equals(bias)) {
                keep = (k.equals("bias") || k.endsWith(".bias")) && !isAuxiliary(k);
            } else {
                keep = loraOnlyBiases.contains(k);
            }
            if (keep) {
                out.put(k, e.getValue().data());
            }
        }
        return out;
    }

    @Override
    protected String toSavedKey(String key, String name) {
        String k = super.toSavedKey(key, name);
        if (k.endsWith(".lora_magnitude_vector.weight")) {
            k = k.substring(0, k.length() - ".weight".length());
        }
        return k;
    }

    @Override
    protected String toMemoryKey(String k, String name) {
        String[] parts = k.split("\\.");
        for (int i = 0; i < parts.length; i++) {
            if (!parts[i].startsWith(prefix())) {
                continue;
            }
            StringBuilder sb = new StringBuilder();
            for (int j = 0; j <= i; j++) {
                sb.append(j == 0 ? "" : ".").append(parts[j]);
            }
            sb.append('.').append(name);
            if (parts[i].equals("lora_magnitude_vector") && i == parts.length - 1) {
                sb.append(".weight");
            }
            for (int j = i + 1; j < parts.length; j++) {
                sb.append('.').append(parts[j]);
            }
            return sb.toString();
        }
        return k;
    }

    // ------------------------------------------------------------------ combining adapters

    /**
     * Creates adapter {@code adapterName} as a weighted combination of existing adapters
     * ({@code add_weighted_adapter}). See {@link WeightedAdapters} for the combination types.
     *
     * @param combinationType "linear", "cat" or "svd"
     * @param svdRank the rank for "svd" (null: the largest source rank)
     */
    public void addWeightedAdapter(List<String> adapters, List<Double> weights, String adapterName,
            String combinationType, Integer svdRank) {
        WeightedAdapters.add(this, adapters, weights, adapterName, combinationType, svdRank);
    }

    Random rng() {
        return rng;
    }

    /** Registers a config and injects it (used by {@link WeightedAdapters}). */
    void inject(String name, LoraConfig cfg) {
        injectAdapter(name, cfg);
    }
}
