package org.peft4j.peft.tuners;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Shape;
import org.peft4j.graph.Value;
import org.peft4j.models.CausalLMInput;
import org.peft4j.models.CausalLMOutput;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.nn.Module;
import org.peft4j.nn.ModuleDict;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.tensor.DType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The base of prompt-learning methods (prefix, prompt and P-tuning): no tree surgery; the base model is frozen and a
 * prompt encoder per adapter ({@code prompt_encoder.<adapter>}) produces what feeds the model's input hooks. One
 * adapter is active at a time, as in PEFT.
 *
 * <p>The default input transform is prompt tuning's and P-tuning's: the active encoder's {@code [batch,
 * num_virtual_tokens, hidden]} embeddings ({@link #virtualTokens}) are prepended to the token embeddings, the attention
 * mask gets {@code num_virtual_tokens} ones in front and explicit position ids are dropped, as PEFT's
 * {@code _adjust_prompt_learning_kwargs} drops them ("Position ids are not supported for parameter efficient tuning.
 * Ignoring position ids."), so the model numbers the virtual and real tokens {@code past .. past + T - 1} from its
 * cache length, padding included (which decides a left-padded row's positions in {@code generate}, where transformers
 * passes {@code cumsum(mask) - 1}); the output drops the virtual positions again, but the loss also reads the last one's logits
 * ({@link CausalLMOutput#lossLogits()}): as in PEFT, it predicts the first real token. With a key/value cache the
 * virtual tokens are prepended only while the cache is empty (the prompt step): later steps find them in the cache.
 * Prefix tuning overrides {@link #transformInput} to seed the cache with its key/value prefixes instead (and, as
 * PEFT, moves explicit position ids by {@code num_virtual_tokens}).
 *
 * <p>Not thread-safe: adapter management changes the model in place.
 */
public abstract class PromptLearningTuner implements TunerModel {
    private static final Logger LOG = LoggerFactory.getLogger(PromptLearningTuner.class);
    /** The prefix of the base model's parameter names inside a prompt-learning {@code PeftModel}. */
    public static final String BASE_PREFIX = "base_model.";

    protected final PreTrainedModel model;
    protected final LinkedHashMap<String, PeftConfig> peftConfig = new LinkedHashMap<>();
    private final Encoders encoders = new Encoders();
    private String activeAdapter;
    private boolean disabled;
    private boolean warnedPositionIds;
    private java.util.Random rng = new java.util.Random(0);

    /** Holds the prompt encoders so that their parameters are named {@code prompt_encoder.<adapter>...}. */
    private static final class Encoders extends Module {
        final ModuleDict promptEncoder = registerModule("prompt_encoder", new ModuleDict());
    }

    protected PromptLearningTuner(PreTrainedModel model) {
        this.model = model;
    }

    @Override
    public PreTrainedModel model() {
        return model;
    }

    @Override
    public Map<String, PeftConfig> peftConfig() {
        return peftConfig;
    }

    @Override
    public List<String> activeAdapters() {
        return activeAdapter == null ? List.of() : List.of(activeAdapter);
    }

    /**
     * Seeds the generator that initialises new adapters' prompt encoders (as {@code LoraModel.seed}): RANDOM prompt
     * embeddings are drawn from N(0, 1) as torch's {@code nn.Embedding} default, the P-tuning / prefix projection
     * layers as torch's {@code nn.Linear} / {@code nn.LSTM} defaults, but from {@link java.util.Random}, so the
     * values differ from torch's under the same seed while the distributions are the same. Without a call the
     * generator is seeded with 0, so a run is reproducible; it affects adapters added after the call.
     *
     * @return this tuner
     */
    public PromptLearningTuner seed(long seed) {
        this.rng = new java.util.Random(seed);
        return this;
    }

    /** The generator for new adapters' initial weights ({@link #seed}). */
    protected java.util.Random rng() {
        return rng;
    }

    /** The prompt encoder of adapter {@code name}, or null. */
    public Module promptEncoder(String name) {
        return encoders.promptEncoder.get(name);
    }

    /** The config of adapter {@code name} as this method's config type. */
    protected PromptLearningConfig config(String name) {
        return (PromptLearningConfig) peftConfig.get(name);
    }

    // ------------------------------------------------------------------ what a method supplies

    /** A new prompt encoder for adapter {@code name} (its parameters initialised as the method does). */
    protected abstract Module createPromptEncoder(String name, PromptLearningConfig config);

    /**
     * Emits the active adapter's virtual token embeddings, {@code [batch, num_virtual_tokens, hidden]} in the model's
     * dtype, for a batch of {@code batchSize} rows (a rank-0 int64 value).
     */
    protected abstract Value virtualTokens(Graph g, String adapter, Module encoder, Value batchSize);

    // ------------------------------------------------------------------ adapters

    /**
     * {@inheritDoc}
     *
     * @throws IllegalArgumentException for a config other than a {@link PromptLearningConfig}, or one with
     *     {@code num_transformer_submodules != 1} (encoder-decoder prefixes; PEFT builds them on a causal LM but its
     *     forward fails)
     */
    @Override
    public void injectAdapter(String adapterName, PeftConfig config) {
        if (!(config instanceof PromptLearningConfig)) {
            throw new IllegalArgumentException("a " + getClass().getSimpleName() + " needs a PromptLearningConfig, "
                    + "got " + config.getClass().getSimpleName());
        }
        PromptLearningConfig cfg = (PromptLearningConfig) config;
        cfg.prepareFor(model.config());
        if (cfg.numTransformerSubmodules() != 1) {
            throw new IllegalArgumentException(numTransformerSubmodulesMessage(cfg));
        }
        Module encoder = createPromptEncoder(adapterName, cfg);
        peftConfig.put(adapterName, cfg);
        encoders.promptEncoder.put(adapterName, encoder);
        // PEFT's _setup_prompt_encoder: the transformer backbone is frozen
        model.requiresGrad(false);
        if (activeAdapter == null) {
            activeAdapter = adapterName;
        }
        updateTrainable();
    }

    /**
     * Why {@code num_transformer_submodules != 1} is refused. PEFT 0.21.2 builds such an adapter on a causal LM (its
     * default is 2 only for {@code SEQ_2_SEQ_LM}) but its forward then fails: prompt tuning and P-tuning prepend
     * {@code 2 * num_virtual_tokens} embeddings but only {@code num_virtual_tokens} ignored labels ("Expected input
     * batch_size (10) to match target batch_size (7)"), prefix tuning builds an encoder-decoder cache. peft4j refuses
     * it when the adapter is added.
     */
    private String numTransformerSubmodulesMessage(PromptLearningConfig cfg) {
        return "num_transformer_submodules=" + cfg.numTransformerSubmodules() + " (task_type="
                + (cfg.taskType() == null ? null : cfg.taskType().name()) + ") is for encoder-decoder models, whose "
                + "encoder and decoder each get the virtual tokens; " + model.transformersClassName() + " is a "
                + "causal LM (peft4j has no encoder-decoder models): use num_transformer_submodules=1 and task_type="
                + "CAUSAL_LM";
    }

    /**
     * The active adapter's encoder requires gradients, the others do not. Inference mode does not freeze it: as in
     * PEFT 0.21.2, whose {@code PeftModel.from_pretrained(..., is_trainable=False)} leaves {@code requires_grad=True}
     * on the loaded prompt encoder (for prompt learning it only switches the encoder to its inference form, the
     * saved {@code prompt_embeddings} in a plain embedding), so {@code get_nb_trainable_parameters} counts it and a
     * Trainer run on the loaded model would update it. (PEFT also leaves an inactive encoder requiring gradients;
     * it gets none, as it is not in the forward, so peft4j keeps it frozen: the counts then differ from PEFT's
     * only for a model holding several prompt adapters.)
     */
    private void updateTrainable() {
        for (Map.Entry<String, Module> e : encoders.promptEncoder.namedChildren().entrySet()) {
            boolean train = e.getKey().equals(activeAdapter) && !disabled;
            e.getValue().requiresGrad(train);
        }
    }

    @Override
    public void setAdapter(List<String> names) {
        if (names.size() != 1) {
            throw new IllegalArgumentException("Prompt learning methods can only have one active adapter, got "
                    + names);
        }
        String name = names.get(0);
        if (!peftConfig.containsKey(name)) {
            throw new IllegalArgumentException("Adapter " + name + " not found.");
        }
        activeAdapter = name;
        updateTrainable();
    }

    @Override
    public void deleteAdapter(String name) {
        if (!peftConfig.containsKey(name)) {
            throw new IllegalArgumentException("Adapter " + name + " does not exist");
        }
        peftConfig.remove(name);
        encoders.promptEncoder.remove(name);
        if (name.equals(activeAdapter)) {
            activeAdapter = peftConfig.isEmpty() ? null : new TreeSet<>(peftConfig.keySet()).first();
            if (activeAdapter != null) {
                LOG.warn("Adapter {} was active which is now deleted. Setting active adapter to {}.", name,
                        activeAdapter);
            }
        }
        updateTrainable();
    }

    @Override
    public void enableAdapterLayers(boolean enabled) {
        disabled = !enabled;
        updateTrainable();
    }

    @Override
    public boolean anyAdapterEnabled() {
        return !disabled && activeAdapter != null;
    }

    @Override
    public boolean anyAdapterDisabled() {
        return disabled;
    }

    /** Whether the virtual tokens are in the forward now (an adapter is active and not disabled). */
    protected boolean active() {
        return !disabled && activeAdapter != null;
    }

    @Override
    public Object forwardState() {
        return new ArrayList<>(java.util.Arrays.asList(activeAdapter, disabled));
    }

    // ------------------------------------------------------------------ the forward

    @Override
    public CausalLMInput transformInput(Graph g, CausalLMInput input) {
        if (!active()) {
            return input;
        }
        int n = config(activeAdapter).numVirtualTokens();
        Value batch = g.dimOf(input.inputIds(), 0);
        Value prompts;
        try (Graph.Scope s = g.scope("prompt_encoder")) {
            prompts = virtualTokens(g, activeAdapter, promptEncoder(activeAdapter), batch);
        }
        // the virtual tokens enter with the prompt step only: with a non-empty cache they are already in it
        Value taken = virtualTokensTaken(g, input, n);
        if (input.pastKeys() != null) {
            prompts = g.slice(prompts, g.ints(0), g.unsqueeze(taken, 0), 1,
                    prompts.shape().with(1, Dim.unknown()));
        }
        CausalLMInput out = CausalLMInput.of(input.inputIds()).useCache(input.useCache());
        if (input.pastKeys() != null) {
            out.past(input.pastKeys(), input.pastValues());
        }
        out.prefixEmbeds(input.prefixEmbeds() == null ? prompts : g.concat(1, prompts, input.prefixEmbeds()));
        if (input.attentionMask() != null) {
            Value ones = g.node("ConstantOfShape", "", List.of(g.concat(0, g.unsqueeze(batch, 0), g.ints(n))),
                    List.of(DType.I64), List.of(Shape.of(input.attentionMask().shape().dim(0), Dim.of(n))),
                    Map.of("value", org.peft4j.tensor.Tensor.of(new long[] {1}, 1))).output(0);
            out.attentionMask(g.concat(1, ones, input.attentionMask()));
        }
        if (input.positionIds() != null && !warnedPositionIds) {
            // PEFT's _adjust_prompt_learning_kwargs (warnings.warn: shown once)
            warnedPositionIds = true;
            LOG.warn("Position ids are not supported for parameter efficient tuning. Ignoring position ids.");
        }
        return out;
    }

    /** {@code n} on the prompt step (empty or absent cache), 0 on incremental steps: a rank-0 int64 value. */
    private static Value virtualTokensTaken(Graph g, CausalLMInput input, int n) {
        if (input.pastKeys() == null) {
            return g.intScalar(n);
        }
        Value past = g.dimOf(input.pastKeys().get(0), 2);
        return g.mul(g.cast(g.equal(past, g.intScalar(0)), DType.I64), g.intScalar(n));
    }

    @Override
    public CausalLMOutput transformOutput(Graph g, CausalLMInput input, CausalLMOutput output) {
        if (!active()) {
            return output;
        }
        int n = config(activeAdapter).numVirtualTokens();
        Value logits = dropVirtual(g, input, output.logits(), n);
        Value hidden = output.hiddenStates() == null ? null : dropVirtual(g, input, output.hiddenStates(), n);
        CausalLMOutput out = new CausalLMOutput(logits, hidden, output.presentKeys(), output.presentValues());
        if (input.pastKeys() == null) {
            // PEFT computes the loss over the virtual positions too (labelled -100): the last one predicts the
            // first real token
            out = out.withLossLogits(g.slice(output.logits(), new long[] {n - 1}, new long[] {Long.MAX_VALUE},
                    new long[] {1}));
        }
        return out;
    }

    /** {@code x[:, taken:]}: a constant slice without a cache (so it has a gradient), a computed one with it. */
    private static Value dropVirtual(Graph g, CausalLMInput input, Value x, int n) {
        if (input.pastKeys() == null) {
            return g.slice(x, new long[] {n}, new long[] {Long.MAX_VALUE}, new long[] {1});
        }
        Value taken = virtualTokensTaken(g, input, n);
        return g.slice(x, g.unsqueeze(taken, 0), g.ints(Long.MAX_VALUE), 1, x.shape().with(1, Dim.unknown()));
    }

    // ------------------------------------------------------------------ parameters

    /** The prompt encoders' parameters ({@code prompt_encoder.<adapter>...}) and the base model's. */
    @Override
    public LinkedHashMap<String, Parameter> namedParameters() {
        LinkedHashMap<String, Parameter> out = new LinkedHashMap<>(encoders.namedParameters());
        for (Map.Entry<String, Parameter> e : model.namedParameters().entrySet()) {
            out.put(BASE_PREFIX + e.getKey(), e.getValue());
        }
        return out;
    }

    // ------------------------------------------------------------------ merging: not for prompt learning

    /**
     * PEFT 0.21.2's refusal: a prompt-learning {@code PeftModel}'s {@code base_model} is the transformers model itself
     * (no tuner), so the attribute lookup fails with Python's {@code AttributeError}, e.g. {@code 'LlamaForCausalLM'
     * object has no attribute 'merge_and_unload'}.
     */
    private UnsupportedOperationException noMerge(String method) {
        List<String> arch = new ArrayList<>();
        Object a = model.config().get("architectures");
        if (a instanceof List && !((List<?>) a).isEmpty()) {
            arch.add(String.valueOf(((List<?>) a).get(0)));
        }
        String name = arch.isEmpty() ? model.transformersClassName() : arch.get(0);
        return new UnsupportedOperationException("'" + name + "' object has no attribute '" + method + "'");
    }

    /** Refused as PEFT: {@code '<architecture>' object has no attribute 'merge_adapter'}. */
    @Override
    public void mergeAdapter(List<String> adapterNames, boolean safeMerge) {
        throw noMerge("merge_adapter");
    }

    /** Refused as PEFT: {@code '<architecture>' object has no attribute 'unmerge_adapter'}. */
    @Override
    public void unmergeAdapter() {
        throw noMerge("unmerge_adapter");
    }

    /** Refused as PEFT: {@code '<architecture>' object has no attribute 'merge_and_unload'}. */
    @Override
    public PreTrainedModel mergeAndUnload(boolean safeMerge, List<String> adapterNames) {
        throw noMerge("merge_and_unload");
    }

    /** Refused as PEFT: {@code '<architecture>' object has no attribute 'unload'}. */
    @Override
    public PreTrainedModel unload() {
        throw noMerge("unload");
    }
}
