package org.peft4j.peft;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.ConcurrentModificationException;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.generation.Generator;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.models.CausalLM;
import org.peft4j.models.CausalLMInput;
import org.peft4j.models.CausalLMOutput;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.nn.Module;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.peft.config.PeftType;
import org.peft4j.peft.tuners.AdapterSelection;
import org.peft4j.peft.tuners.PeftTuners;
import org.peft4j.peft.tuners.TunerModel;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.safetensors.SafeTensorsWriter;
import org.peft4j.tensor.Tensor;
import org.peft4j.util.AtomicFiles;
import org.peft4j.util.FolderSave;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A base model with PEFT adapters ({@code PeftModel}): the entry point for training, inference, saving and adapter
 * management. Build one with {@link Peft#getPeftModel} or {@link #fromPretrained}.
 *
 * <p>As a {@link CausalLM} it is what {@code TrainStep}, {@code Trainer} and {@code Generator} take: its forward is
 * the tuner's input transform, the base model's forward and the tuner's output transform, so every method (layer
 * injection or prompt learning) trains and generates through the same code.
 *
 * <p>For methods that inject layers (LoRA), the base model's tree is modified in place: {@link #getBaseModel()}
 * returns it with the wrappers, and parameter names here carry PEFT's {@code base_model.model.} prefix.
 *
 * <p><b>Threads</b>: inference ({@link #logits(OrtRuntime, Tensor, Tensor)}, {@link #generate}) may run from several
 * threads at once. Which adapter is active is one shared switch: changing it ({@link #setAdapter},
 * {@link #setAdapters}, {@link #disableAdapter()} and closing its handle, {@link #addAdapter}, {@link #deleteAdapter},
 * merging and unloading) while an inference call runs on this model fails loudly instead of computing an answer
 * with a mix of adapters: the change throws {@link IllegalStateException} when a call is running, and a call that a
 * change overlapped anyway (it started between the check and the change) throws
 * {@link java.util.ConcurrentModificationException} instead of returning. Switch adapters between calls; training
 * ({@link #forward}) is single-threaded. To serve different adapters from several threads at once, pass the adapters
 * per call instead ({@link #logits(OrtRuntime, Tensor, Tensor, List)}, {@link #generate(long[][], long[][],
 * GenerationConfig, List)}, PEFT's {@code adapter_names}, LoRA only): such calls never read the shared switch.
 */
public class PeftModel implements CausalLM, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(PeftModel.class);
    /** The file name of saved adapter weights. */
    public static final String SAFETENSORS_WEIGHTS_NAME = "adapter_model.safetensors";
    /** The file name of adapter weights saved by PyTorch (not readable here). */
    public static final String WEIGHTS_NAME = "adapter_model.bin";

    private final TunerModel tuner;
    /** The base model's parameters before any adapter was added: shared, never released by {@link #close()}. */
    private final Set<Parameter> baseParameters =
            java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    /** Inference calls running now. */
    private final AtomicInteger running = new AtomicInteger();
    /** Bumped before and after every change of the adapter switch (see the class comment). */
    private final AtomicLong switches = new AtomicLong();
    /** Inference calls with explicit adapter names now running, and a counter of the changes they see. */
    private final AtomicInteger namedRunning = new AtomicInteger();
    private final AtomicLong structural = new AtomicLong();

    /** Wraps {@code model} with a new adapter {@code adapterName} configured by {@code config}. */
    public PeftModel(PreTrainedModel model, PeftConfig config, String adapterName) {
        this.baseParameters.addAll(model.namedParameters().values());
        this.tuner = PeftTuners.forType(config.peftType()).createModel(model);
        tuner.injectAdapter(adapterName, config);
    }

    /**
     * Loads the adapter saved in {@code dir} onto {@code model} as adapter "default", in inference mode (PEFT's
     * default {@code is_trainable=False}): a LoRA-like adapter is frozen; a prompt-learning adapter's loaded prompt
     * embedding still requires gradients, as in PEFT 0.21.2, so {@link #getNbTrainableParameters()} and
     * {@link #printTrainableParameters()} count it as PEFT does (see {@code PromptLearningTuner}).
     */
    public static PeftModel fromPretrained(PreTrainedModel model, Path dir) {
        return fromPretrained(model, dir, "default", false);
    }

    /**
     * {@link #fromPretrained(PreTrainedModel, Path)} for a local adapter folder when {@code adapterIdOrPath} exists,
     * otherwise for a Hugging Face adapter repo id (optionally {@code "org/name@revision"}): its
     * {@code adapter_config.json} and {@code adapter_model.safetensors} come from the local Hugging Face cache or are
     * downloaded when allowed ({@link org.peft4j.hub.HfHub#resolveAdapter}).
     *
     * @throws org.peft4j.hub.HubException when the id cannot be resolved
     */
    public static PeftModel fromPretrained(PreTrainedModel model, String adapterIdOrPath) {
        return fromPretrained(model, org.peft4j.hub.HfHub.resolveAdapter(adapterIdOrPath));
    }

    /**
     * Loads the adapter saved in {@code dir} onto {@code model}.
     *
     * @param isTrainable whether the loaded adapter's weights are trainable (otherwise inference mode)
     * @throws org.peft4j.FileAccessException if the folder has no config or weights, or they do not fit the model
     * @throws IllegalArgumentException as PEFT, {@code "Cannot set a prompt learning adapter to trainable when loading
     *     pretrained adapter."} for a prompt-learning adapter with {@code isTrainable} (resume a prompt-learning run
     *     from its Trainer checkpoint instead)
     */
    public static PeftModel fromPretrained(PreTrainedModel model, Path dir, String adapterName, boolean isTrainable) {
        try {
            PeftConfig config = PeftConfigs.fromPretrained(dir);
            if (config.isPromptLearning() && isTrainable) {
                throw new IllegalArgumentException("Cannot set a prompt learning adapter to trainable when loading "
                        + "pretrained adapter.");
            }
            config.setInferenceMode(!isTrainable);
            PeftModel pm = new PeftModel(model, config, adapterName);
            pm.loadAdapterWeights(dir, adapterName);
            return pm;
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.of("read", dir, e);
        }
    }

    /**
     * Loads another saved adapter under {@code adapterName} (not activated).
     *
     * @return the adapter keys the file lacked and the file keys that matched nothing
     * @throws IllegalArgumentException if the name is taken or the method differs from the existing adapters'; as
     *     PEFT's {@code _check_new_adapter_config}, {@code "Cannot set a prompt learning adapter to trainable when
     *     loading pretrained adapter."} for a prompt-learning adapter with {@code isTrainable}
     */
    public Module.LoadResult loadAdapter(Path dir, String adapterName, boolean isTrainable) {
        try {
            PeftConfig config = PeftConfigs.fromPretrained(dir);
            if (config.isPromptLearning() && isTrainable) {
                throw new IllegalArgumentException("Cannot set a prompt learning adapter to trainable when loading "
                        + "pretrained adapter.");
            }
            config.setInferenceMode(!isTrainable);
            addAdapter(adapterName, config);
            return loadAdapterWeights(dir, adapterName);
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.of("read", dir, e);
        }
    }

    private Module.LoadResult loadAdapterWeights(Path dir, String adapterName) throws IOException {
        Path file = dir.resolve(SAFETENSORS_WEIGHTS_NAME);
        if (!Files.exists(file)) {
            if (Files.exists(dir.resolve(WEIGHTS_NAME))) {
                throw new org.peft4j.InvalidInputException(dir.resolve(WEIGHTS_NAME) + ": PyTorch pickle adapters "
                        + "cannot be read; save the adapter with safe_serialization=True (adapter_model.safetensors)",
                        dir.resolve(WEIGHTS_NAME), null, null);
            }
            throw new java.nio.file.NoSuchFileException(file.toString(), null, "no adapter weights");
        }
        Map<String, Tensor> saved = new LinkedHashMap<>();
        try (SafeTensors src = SafeTensors.open(file)) {
            for (String k : src.keys()) {
                // read, not mapped: a mapping would outlive this model until a garbage collection
                saved.put(k, src.read(k));
            }
        }
        Module.LoadResult r;
        try {
            r = tuner.loadAdapterStateDict(saved, adapterName);
        } catch (IllegalArgumentException e) {
            throw new org.peft4j.InvalidInputException(file + ": " + e.getMessage(), file, null, e);
        }
        if (!r.missingKeys().isEmpty()) {
            LOG.warn("Found missing adapter keys while loading the checkpoint: {}", r.missingKeys());
        }
        return r;
    }

    // ------------------------------------------------------------------ accessors

    /** The base model, with the adapter layers in its tree. */
    public PreTrainedModel getBaseModel() {
        return tuner.model();
    }

    /** The tuner (e.g. {@code LoraModel}) for method-specific operations. */
    public TunerModel tuner() {
        return tuner;
    }

    /** The tuner as {@code type}. */
    public <T extends TunerModel> T tuner(Class<T> type) {
        return type.cast(tuner);
    }

    /** Adapter configs by name. */
    public Map<String, PeftConfig> peftConfig() {
        return tuner.peftConfig();
    }

    /** The first active adapter, or null if none is active. */
    public String activeAdapter() {
        List<String> a = tuner.activeAdapters();
        return a.isEmpty() ? null : a.get(0);
    }

    /**
     * The adapters that run now, in order (PEFT's {@code active_adapters}).
     *
     * @return the adapter names
     */
    public List<String> activeAdapters() {
        return tuner.activeAdapters();
    }

    /** The config of the active adapter. */
    public PeftConfig activePeftConfig() {
        return peftConfig().get(activeAdapter());
    }

    /**
     * Parameters by PEFT's full names ({@code base_model.model.model.layers.0...lora_A.default.weight}; a prompt
     * encoder's under {@code prompt_encoder.<adapter>.}), each listed once.
     */
    @Override
    public LinkedHashMap<String, Parameter> namedParameters() {
        LinkedHashMap<String, Parameter> out = new LinkedHashMap<>();
        java.util.Set<Parameter> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (Map.Entry<String, Parameter> e : tuner.namedParameters().entrySet()) {
            if (seen.add(e.getValue())) {
                out.put(e.getKey(), e.getValue());
            }
        }
        return out;
    }

    /**
     * {@code [trainable, all]} parameter counts (shared parameters counted once; a packed parameter, e.g. 4-bit codes,
     * counts {@code numel * packing} as PEFT counts bitsandbytes' {@code Params4bit}).
     */
    public long[] getNbTrainableParameters() {
        long trainable = 0;
        long all = 0;
        for (Parameter p : namedParameters().values()) {
            long n = p.numel() * p.packing();
            all += n;
            if (p.trainable()) {
                trainable += n;
            }
        }
        return new long[] {trainable, all};
    }

    /**
     * Prints and returns PEFT's line, e.g.
     * {@code trainable params: 4,194,304 || all params: 6,742,609,920 || trainable%: 0.0622}.
     */
    public String printTrainableParameters() {
        long[] n = getNbTrainableParameters();
        String s = String.format(Locale.ROOT, "trainable params: %,d || all params: %,d || trainable%%: %.4f", n[0],
                n[1], 100.0 * n[0] / n[1]);
        System.out.println(s);
        return s;
    }

    // ------------------------------------------------------------------ adapters

    /**
     * Adds a new adapter (not activated).
     *
     * @throws IllegalArgumentException with PEFT's messages for a duplicate name or another method
     */
    public void addAdapter(String adapterName, PeftConfig config) {
        beginSwitch("add_adapter");
        try {
            if (peftConfig().containsKey(adapterName)) {
                throw new IllegalArgumentException("Adapter with name '" + adapterName + "' already exists.");
            }
            PeftType existing = peftConfig().isEmpty() ? null : peftConfig().values().iterator().next().peftType();
            if (existing != null && existing != config.peftType()) {
                // PEFT formats the enum members: "Found PeftType.PREFIX_TUNING and PeftType.LORA."
                throw new IllegalArgumentException("Cannot combine adapters with different peft types. Found PeftType."
                        + existing + " and PeftType." + config.peftType() + ".");
            }
            if (config.baseModelNameOrPath() == null) {
                config.setBaseModelNameOrPath(getBaseModel().nameOrPath());
            }
            tuner.injectAdapter(adapterName, config);
        } finally {
            endSwitch();
        }
    }

    /**
     * Activates one adapter.
     *
     * @throws IllegalArgumentException with PEFT's message for an unknown name
     */
    public void setAdapter(String adapterName) {
        beginSwitch("set_adapter");
        try {
            if (!peftConfig().containsKey(adapterName)) {
                throw new IllegalArgumentException("Adapter " + adapterName + " not found.");
            }
            tuner.setAdapter(List.of(adapterName));
        } finally {
            endSwitch();
        }
    }

    /** Activates several adapters at once (their outputs are summed), as {@code LoraModel.set_adapter(list)}. */
    public void setAdapters(List<String> adapterNames) {
        beginSwitch("set_adapter");
        try {
            tuner.setAdapter(adapterNames);
        } finally {
            endSwitch();
        }
    }

    /** Deletes an adapter. */
    public void deleteAdapter(String adapterName) {
        beginSwitch("delete_adapter");
        try {
            tuner.deleteAdapter(adapterName);
        } finally {
            endSwitch();
        }
    }

    /**
     * Disables all adapters until the returned handle is closed (PEFT's {@code with model.disable_adapter():}).
     * Adapters that were enabled are enabled again on close.
     */
    public AdapterDisabled disableAdapter() {
        boolean anyEnabled = tuner.anyAdapterEnabled();
        boolean anyDisabled = tuner.anyAdapterDisabled();
        if (anyEnabled && anyDisabled) {
            LOG.warn("The model contains some adapter layers that are enabled and others that are disabled. This is "
                    + "most likely unintentional. After exiting the disable_adapter context, all adapters will be "
                    + "enabled");
        }
        boolean restore = anyEnabled;
        beginSwitch("disable_adapter");
        try {
            tuner.enableAdapterLayers(false);
        } finally {
            endSwitch();
        }
        return new AdapterDisabled(() -> {
            if (restore) {
                beginSwitch("disable_adapter (leaving it)");
                try {
                    tuner.enableAdapterLayers(true);
                } finally {
                    endSwitch();
                }
            }
        });
    }

    /** Merges the active adapters into the base weights (reversible with {@link #unmergeAdapter()}). */
    public void mergeAdapter() {
        mergeAdapter(null, false);
    }

    /** Merges {@code adapterNames} (null: the active ones) into the base weights. */
    public void mergeAdapter(List<String> adapterNames, boolean safeMerge) {
        beginSwitch("merge_adapter");
        try {
            tuner.mergeAdapter(adapterNames, safeMerge);
        } finally {
            endSwitch();
        }
    }

    /** Undoes every merge. */
    public void unmergeAdapter() {
        beginSwitch("unmerge_adapter");
        try {
            tuner.unmergeAdapter();
        } finally {
            endSwitch();
        }
    }

    /** Merges the active adapters and returns the base model with its original architecture. */
    public PreTrainedModel mergeAndUnload() {
        return tuner.mergeAndUnload(false, null);
    }

    /**
     * Merges adapters and returns the base model with its original architecture.
     *
     * @param safeMerge check the merged weights for NaN/Inf before committing them
     * @param adapterNames adapters to merge (null: the active ones)
     */
    public PreTrainedModel mergeAndUnload(boolean safeMerge, List<String> adapterNames) {
        beginSwitch("merge_and_unload");
        try {
            return tuner.mergeAndUnload(safeMerge, adapterNames);
        } finally {
            endSwitch();
        }
    }

    /** Removes all adapter layers without merging and returns the original base model. */
    public PreTrainedModel unload() {
        beginSwitch("unload");
        try {
            return tuner.unload();
        } finally {
            endSwitch();
        }
    }

    // ------------------------------------------------------------------ running

    /**
     * The base model's {@link PreTrainedModel#gradientCheckpointingEnable()} (a {@code PeftModel} forwards it to the
     * base model, as PEFT's attribute lookup does).
     */
    public void gradientCheckpointingEnable() {
        baseModel().gradientCheckpointingEnable();
    }

    /** The base model's {@link PreTrainedModel#gradientCheckpointingDisable()}. */
    public void gradientCheckpointingDisable() {
        baseModel().gradientCheckpointingDisable();
    }

    /** The base model's {@link PreTrainedModel#isGradientCheckpointing()}. */
    public boolean isGradientCheckpointing() {
        return baseModel().isGradientCheckpointing();
    }

    /** The base model that runs underneath (with the wrappers, for layer-injection methods). */
    @Override
    public PreTrainedModel baseModel() {
        return getBaseModel();
    }

    /**
     * Emits the forward pass with the active adapters: the tuner's input transform, the base model's forward, the
     * tuner's output transform. Parameters are named as {@link #namedParameters()}.
     */
    @Override
    public CausalLMOutput forward(Graph g, CausalLMInput input) {
        g.nameParameters(namedParameters());
        CausalLMInput in = tuner.transformInput(g, input);
        CausalLMOutput out = getBaseModel().forward(g, in);
        return tuner.transformOutput(g, input, out);
    }

    /** The loss with the method's own terms ({@link TunerModel#transformLoss}). */
    @Override
    public Value transformLoss(Graph g, Value loss) {
        return tuner.transformLoss(g, loss);
    }

    /**
     * transformers' rule over the PEFT model's parameters: the base model's decaying parameters (not biases, not
     * normalisation weights) and the method's own parameters that are not biases.
     */
    @Override
    public Set<String> decayParameterNames() {
        PreTrainedModel base = getBaseModel();
        Set<Parameter> baseParams = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        baseParams.addAll(base.namedParameters().values());
        Set<Parameter> baseDecay = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (String n : base.decayParameterNames()) {
            baseDecay.add(base.getParameter(n));
        }
        Set<String> out = new LinkedHashSet<>();
        for (Map.Entry<String, Parameter> e : namedParameters().entrySet()) {
            Parameter p = e.getValue();
            if (baseParams.contains(p) ? baseDecay.contains(p) : !e.getKey().endsWith("bias")) {
                out.add(e.getKey());
            }
        }
        return out;
    }

    /** The base model's state, the tuner's own (active prompt adapter, disabled) and every parameter's. */
    @Override
    public Object graphState() {
        // a list that holds null: a tuner without state of its own returns null
        return java.util.Arrays.asList(getBaseModel().graphState(), tuner.forwardState(),
                PreTrainedModel.parameterState(namedParameters()));
    }

    /** A checkpoint folder gets the adapters, as transformers' Trainer saves a PEFT model ({@link #savePretrained}). */
    @Override
    public void saveCheckpointFiles(Path dir) {
        savePretrained(dir);
    }

    /**
     * Generates continuations of left-padded prompts with the active adapters. May run from several threads; fails
     * with {@link ConcurrentModificationException} if the active adapter was changed while it ran.
     *
     * @param attentionMask 1 for tokens, 0 for padding; null for unpadded prompts (all ones)
     */
    public long[][] generate(long[][] inputIds, long[][] attentionMask, GenerationConfig cfg) {
        long at = beginCall();
        try {
            return endCall(at, new Generator(this).generate(inputIds, attentionMask, cfg));
        } finally {
            running.decrementAndGet();
        }
    }

    /**
     * {@inheritDoc} With the active adapters. May run from several threads; fails with
     * {@link ConcurrentModificationException} if the active adapter was changed while it ran.
     */
    @Override
    public Tensor logits(OrtRuntime runtime, Tensor inputIds, Tensor attentionMask) {
        long at = beginCall();
        try {
            return endCall(at, CausalLM.super.logits(runtime, inputIds, attentionMask));
        } finally {
            running.decrementAndGet();
        }
    }

    // ------------------------------------------------------------ mixed-batch inference (per-call adapters)

    /**
     * Emits the forward with one adapter per batch row (PEFT's {@code model(..., adapter_names=[...])}): row {@code i}
     * uses adapter {@code rows.adapterNames().get(i)}, or none for {@code "__base__"}. Run the graph with
     * {@code rows.feeds(g)} added to the feed. Only LoRA supports it; the active adapter switch is not read.
     *
     * @throws IllegalArgumentException (PEFT's ValueError) in a training graph, for an unknown adapter name, or with
     *     merged adapters; for DoRA adapters; for a tuner other than LoRA
     */
    public CausalLMOutput forward(Graph g, CausalLMInput input, AdapterSelection rows) {
        checkAdapterNames(rows.adapterNames(), g.isTraining());
        try (AdapterSelection.Scope s = rows.enter()) {
            return forward(g, input);
        }
    }

    /** {@link #logits(OrtRuntime, Tensor, Tensor, List)} on the process-wide CPU runtime. */
    public Tensor logits(Tensor inputIds, Tensor attentionMask, List<String> adapterNames) {
        return logits(OrtRuntime.shared(), inputIds, attentionMask, adapterNames);
    }

    /**
     * Logits [batch, seq, vocab] with one adapter per row (PEFT's per-call {@code adapter_names}, mixed-batch
     * inference): {@code adapterNames.get(i)} for row {@code i}, {@code "__base__"} for the base model. Thread-safe:
     * the call never reads the shared active-adapter switch ({@link #setAdapter}), so threads may each pass their own
     * adapters at once and {@code setAdapter} may run beside them; adding, deleting, disabling, merging or unloading
     * adapters during such a call is refused with {@link IllegalStateException} (and a call such a change
     * overlapped throws {@link ConcurrentModificationException}). One graph is compiled (and cached) per set of distinct adapters; which row uses which is fed
     * as data.
     *
     * @throws IllegalArgumentException with PEFT's messages: a length other than the batch size, an adapter no layer
     *     has, merged adapters, DoRA adapters, or a tuner other than LoRA
     */
    public Tensor logits(OrtRuntime runtime, Tensor inputIds, Tensor attentionMask, List<String> adapterNames) {
        return withNamedAdapters(() -> namedLogits(runtime, inputIds, attentionMask, adapterNames));
    }

    private Tensor namedLogits(OrtRuntime runtime, Tensor inputIds, Tensor attentionMask, List<String> adapterNames) {
        checkBatch(adapterNames, inputIds.dim(0));
        org.peft4j.models.TokenIds.checkInEmbedding(inputIds, getBaseModel().vocabSize());
        AdapterSelection rows = new AdapterSelection(adapterNames);
        Graph g = new Graph();
        Value ids = g.input("input_ids", org.peft4j.tensor.DType.I64, org.peft4j.graph.Dim.of("batch"),
                org.peft4j.graph.Dim.of("seq"));
        CausalLMInput in = CausalLMInput.of(ids);
        Map<String, Tensor> feed = new LinkedHashMap<>();
        feed.put("input_ids", inputIds);
        if (attentionMask != null) {
            in.attentionMask(g.input("attention_mask", org.peft4j.tensor.DType.I64, org.peft4j.graph.Dim.of("batch"),
                    org.peft4j.graph.Dim.of("seq")));
            feed.put("attention_mask", attentionMask);
        }
        g.output("logits", forward(g, in, rows).logits());
        feed.putAll(rows.feeds(g));
        try (org.peft4j.runtime.CompiledGraph cg = runtime.compile(g, p -> false)) {
            return cg.run(feed).get("logits");
        }
    }

    /**
     * Generates with one adapter per prompt (PEFT's {@code generate(..., adapter_names=[...])}); {@code "__base__"}
     * generates with the base model. Thread-safe as {@link #logits(OrtRuntime, Tensor, Tensor, List)}: the shared
     * active-adapter switch is not read.
     *
     * @throws IllegalArgumentException as {@link #logits(OrtRuntime, Tensor, Tensor, List)}
     */
    public long[][] generate(long[][] inputIds, long[][] attentionMask, GenerationConfig cfg,
            List<String> adapterNames) {
        checkBatch(adapterNames, inputIds.length);
        AdapterSelection rows = new AdapterSelection(adapterNames);
        checkAdapterNames(adapterNames, false);
        return withNamedAdapters(() -> {
            try (AdapterSelection.Scope s = rows.enter()) {
                return new Generator(this).generate(inputIds, attentionMask, cfg, rows::feeds);
            }
        });
    }

    private static void checkBatch(List<String> adapterNames, long batch) {
        if (adapterNames.size() != batch) {
            throw new IllegalArgumentException("Length of `adapter_names` should be the same as the number of inputs, "
                    + "but got " + adapterNames.size() + " and " + batch + " respectively.");
        }
    }

    /** PEFT's checks of {@code adapter_names} (LoraModel._enable_peft_forward_hooks, LoraLayer._check_forward_args). */
    private void checkAdapterNames(List<String> adapterNames, boolean training) {
        for (PeftConfig c : peftConfig().values()) {
            if (c.peftType() != PeftType.LORA) {
                throw new IllegalArgumentException(c.peftType() + " does not support mixed adapter batches "
                        + "(`adapter_names`); only LoRA does.");
            }
        }
        if (training) {
            throw new IllegalArgumentException("Cannot pass `adapter_names` when the model is in training mode.");
        }
        Set<String> expected = new LinkedHashSet<>();
        boolean merged = false;
        for (Module m : getBaseModel().namedModules().values()) {
            if (m instanceof org.peft4j.peft.tuners.BaseTunerLayer) {
                org.peft4j.peft.tuners.BaseTunerLayer l = (org.peft4j.peft.tuners.BaseTunerLayer) m;
                expected.addAll(l.adapterNames());
                merged |= !l.mergedAdapters().isEmpty();
            }
        }
        java.util.TreeSet<String> unexpected = new java.util.TreeSet<>(adapterNames);
        unexpected.remove(AdapterSelection.BASE);
        unexpected.removeAll(expected);
        if (!unexpected.isEmpty()) {
            throw new IllegalArgumentException("Trying to infer with non-existing adapter(s): "
                    + String.join(", ", unexpected));
        }
        if (merged) {
            throw new IllegalArgumentException("Cannot pass `adapter_names` when there are merged adapters, please "
                    + "call `unmerge_adapter` first.");
        }
    }

    /**
     * Releases what this model holds in the ONNX Runtime session caches ({@link OrtRuntime#releaseEverywhere}): the
     * cached sessions that bind its adapter weights, and with them the weights and the sessions' native memory.
     * The base model's own weights are shared and stay. The model remains usable (a later call compiles its
     * graphs again); close it when it is discarded, e.g. after serving one request with a per-request adapter.
     */
    @Override
    public void close() {
        List<Tensor> own = new ArrayList<>();
        for (Parameter p : namedParameters().values()) {
            if (!baseParameters.contains(p) && p.hasData()) {
                own.add(p.data());
            }
        }
        OrtRuntime.releaseEverywhere(own);
    }

    private long beginCall() {
        running.incrementAndGet();
        return switches.get();
    }

    /**
     * Runs an inference call with explicit adapter names: it does not read the active adapter, so {@code
     * set_adapter} may run beside it, but the changes it does see (add / delete / disable / merge / unload) fail
     * loudly as for other calls.
     */
    private <T> T withNamedAdapters(java.util.function.Supplier<T> call) {
        namedRunning.incrementAndGet();
        long at = structural.get();
        try {
            T out = call.get();
            if (structural.get() != at) {
                throw new ConcurrentModificationException("the adapters of this PeftModel were changed (add, delete, "
                        + "disable, merge or unload) by another thread while this call ran; its result is discarded. "
                        + "Change adapters between calls.");
            }
            return out;
        } finally {
            namedRunning.decrementAndGet();
        }
    }

    private <T> T endCall(long at, T result) {
        if (switches.get() != at) {
            throw new ConcurrentModificationException("the active adapter of this PeftModel was changed "
                    + "(set_adapter, disable_adapter, ...) by another thread while this call ran; its result is "
                    + "discarded. Switch adapters between calls.");
        }
        return result;
    }

    /** Refuses a change of the adapter switch while an inference call runs; marks the change's start. */
    private void beginSwitch(String what) {
        int n = running.get();
        if (n > 0) {
            throw new IllegalStateException(what + " was called while " + n + " inference call(s) run on this "
                    + "PeftModel in other threads; the active adapter is shared by all threads. Switch adapters "
                    + "between calls.");
        }
        if (!what.equals("set_adapter")) {
            int k = namedRunning.get();
            if (k > 0) {
                throw new IllegalStateException(what + " was called while " + k + " inference call(s) with "
                        + "explicit adapter names run on this PeftModel in other threads. Change adapters between "
                        + "calls.");
            }
            structural.incrementAndGet();
        }
        switches.incrementAndGet();
    }

    /** Marks the end of a change of the adapter switch. */
    private void endSwitch() {
        switches.incrementAndGet();
    }

    // ------------------------------------------------------------------ saving

    /** The adapter's weights under the keys PEFT saves. */
    public LinkedHashMap<String, Tensor> getPeftModelStateDict(String adapterName) {
        return tuner.adapterStateDict(adapterName);
    }

    /** Saves every adapter (see {@link #savePretrained(Path, List)}). */
    public void savePretrained(Path dir) {
        savePretrained(dir, null);
    }

    /**
     * Saves adapters as PEFT does: {@code adapter_config.json} and {@code adapter_model.safetensors} (metadata
     * {@code {"format":"pt"}}) in {@code dir} for "default" and in {@code dir/<name>/} for others, plus a
     * {@code README.md} model card. The folder is replaced as a whole ({@link FolderSave}): after a crash at any moment it
     * holds the complete old or the complete new files, or the next load or save completes the new ones.
     *
     * @param selectedAdapters adapters to save; null means all
     * @throws IllegalArgumentException if {@code dir} is a file or an adapter name is unknown
     */
    public void savePretrained(Path dir, List<String> selectedAdapters) {
        if (Files.isRegularFile(dir)) {
            throw new IllegalArgumentException("Provided path (" + dir + ") should be a directory, not a file");
        }
        List<String> names = selectedAdapters == null ? new ArrayList<>(peftConfig().keySet())
                : new ArrayList<>(selectedAdapters);
        if (!peftConfig().keySet().containsAll(names)) {
            throw new IllegalArgumentException("You passed an invalid `selected_adapters` arguments, current supported "
                    + "adapter names are " + new ArrayList<>(peftConfig().keySet()) + " - got " + names + ".");
        }
        PreTrainedModel base = getBaseModel();
        try (FolderSave save = FolderSave.begin(dir)) {
            AtomicFiles.writeString(save.file("README.md"), ModelCard.render(base.nameOrPath(),
                    peftConfig().values().iterator().next()));
            for (String name : names) {
                String prefix = "default".equals(name) ? "" : name + "/";
                SafeTensorsWriter.write(save.file(prefix + SAFETENSORS_WEIGHTS_NAME), getPeftModelStateDict(name),
                        SafeTensorsWriter.PT_METADATA);
                PeftConfig cfg = peftConfig().get(name).copy();
                if (cfg.baseModelNameOrPath() == null) {
                    cfg.setBaseModelNameOrPath(base.nameOrPath());
                }
                cfg.setInferenceMode(true);
                if (cfg.taskType() == null) {
                    Map<String, Object> am = new LinkedHashMap<>();
                    am.put("base_model_class", base.transformersClassName());
                    am.put("parent_library", transformersModule(base));
                    cfg.setAutoMapping(am);
                }
                cfg.savePretrained(save.file(prefix + PeftConfig.CONFIG_NAME).getParent());
            }
            save.commit();
        }
    }

    private static String transformersModule(PreTrainedModel base) {
        String t = base.config().modelType();
        return "transformers.models." + t + ".modeling_" + t;
    }

    /** The handle returned by {@link #disableAdapter()}; closing it re-enables the adapters. */
    public static final class AdapterDisabled implements AutoCloseable {
        private final Runnable onClose;
        private boolean closed;

        AdapterDisabled(Runnable onClose) {
            this.onClose = onClose;
        }

        /**
         * Enables the adapters again. Like every change of the adapter switch, it throws
         * {@link IllegalStateException} while an inference call runs on the model; the adapters then stay
         * disabled and the handle stays open, so that closing it again later enables them.
         */
        @Override
        public void close() {
            if (!closed) {
                onClose.run();
                closed = true;
            }
        }
    }
}
