package org.peft4j.models;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.nn.Embedding;
import org.peft4j.nn.Layer;
import org.peft4j.nn.LayerNorm;
import org.peft4j.nn.Module;
import org.peft4j.nn.RMSNorm;
import org.peft4j.safetensors.SafeTensorsWriter;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.util.AtomicFiles;
import org.peft4j.util.FolderSave;

/**
 * A causal language model: the root of a module tree whose names match transformers' ({@code
 * model.layers.0.self_attn.q_proj}), and which emits logits (and a key/value cache) into a graph. As a
 * {@link CausalLM} it is its own base model; a PEFT model wraps it.
 *
 * <p>Not thread-safe for changes to the tree or the weights; emitting and running graphs only reads it.
 */
public abstract class PreTrainedModel extends Module implements CausalLM {
    private final ModelConfig config;
    private final DType dtype;
    private String nameOrPath = "";
    private boolean gradientCheckpointing;
    private QuantizationConfig quantizationConfig;

    protected PreTrainedModel(ModelConfig config, DType dtype) {
        this.config = config;
        this.dtype = dtype;
    }

    /** Where the model was loaded from ({@code name_or_path}); empty for a model built from a config. */
    public String nameOrPath() {
        return nameOrPath;
    }

    /** Sets {@link #nameOrPath()} (set by {@code AutoModelForCausalLM.fromPretrained}). */
    public void setNameOrPath(String nameOrPath) {
        this.nameOrPath = nameOrPath == null ? "" : nameOrPath;
    }

    /**
     * The config.json this model was built from.
     *
     * @return the config
     */
    public ModelConfig config() {
        return config;
    }

    /**
     * The quantization this model was loaded with (transformers' {@code config.quantization_config} /
     * {@code hf_quantizer}), or null for a model in full precision.
     */
    public QuantizationConfig quantizationConfig() {
        return quantizationConfig;
    }

    /**
     * Records the quantization this model was loaded with; {@link #savePretrained} writes it as config.json's
     * {@code quantization_config}. Set by {@code AutoModelForCausalLM.fromPretrained}.
     */
    public void setQuantizationConfig(QuantizationConfig quantizationConfig) {
        this.quantizationConfig = quantizationConfig;
    }

    /**
     * transformers' {@code gradient_checkpointing_enable()}: a training step over this model keeps only each decoder
     * layer's input from the forward pass and recomputes the layer's activations in the backward pass. Takes effect
     * for {@code TrainStep}s built afterwards (a step keeps the mode it was built with); the decoder of every family
     * marks its layers' outputs with {@link Graph#checkpoint(Value)}.
     */
    public void gradientCheckpointingEnable() {
        gradientCheckpointing = true;
    }

    /** transformers' {@code gradient_checkpointing_disable()}. */
    public void gradientCheckpointingDisable() {
        gradientCheckpointing = false;
    }

    /** transformers' {@code is_gradient_checkpointing}. */
    public boolean isGradientCheckpointing() {
        return gradientCheckpointing;
    }

    /** The dtype of the parameters and of the computation. */
    public DType dtype() {
        return dtype;
    }

    /**
     * Emits the forward computation: token embeddings (with any prefix embeddings prepended), the decoder stack,
     * then {@code lm_head}. Registers this model's parameter names with the graph first (names already registered,
     * e.g. by a wrapping PEFT model, are kept).
     */
    @Override
    public CausalLMOutput forward(Graph g, CausalLMInput input) {
        g.nameParameters(namedParameters());
        Value h = inputEmbeddings().forward(g, input.inputIds());
        if (input.prefixEmbeds() != null) {
            h = g.concat(1, input.prefixEmbeds(), h);
        }
        DecoderContext ctx = DecoderContext.prepare(g, input, h);
        h = decode(g, h, ctx);
        Value logits;
        try (Graph.Scope s = g.scope(outputEmbeddingsName())) {
            logits = ((Layer) getSubmodule(outputEmbeddingsName())).forward(g, h);
        }
        return new CausalLMOutput(logits, h, ctx.presentKeys(), ctx.presentValues());
    }

    /** Itself: a base model runs its own forward. */
    @Override
    public PreTrainedModel baseModel() {
        return this;
    }

    /** transformers' {@code get_decay_parameter_names}: all but biases and the weights of RMSNorm / LayerNorm. */
    @Override
    public Set<String> decayParameterNames() {
        Set<String> out = new LinkedHashSet<>();
        for (Map.Entry<String, Module> m : namedModules().entrySet()) {
            if (m.getValue() instanceof RMSNorm || m.getValue() instanceof LayerNorm) {
                continue;
            }
            String prefix = m.getKey().isEmpty() ? "" : m.getKey() + ".";
            for (String p : m.getValue().directParameters().keySet()) {
                if (!p.endsWith("bias")) {
                    out.add(prefix + p);
                }
            }
        }
        out.retainAll(namedParameters().keySet());
        return out;
    }

    /**
     * Every module by name with its {@link Module#forwardState()}, and every parameter with its trainable flag: equal
     * exactly when the forward would emit the same graph over the same trainable set.
     */
    @Override
    public Object graphState() {
        List<Object> state = new ArrayList<>();
        for (Map.Entry<String, Module> e : namedModules().entrySet()) {
            state.add(e.getKey());
            state.add(new Identity(e.getValue()));
            state.add(e.getValue().forwardState());
        }
        state.addAll(parameterState(namedParameters()));
        return state;
    }

    /**
     * The state of a set of parameters for {@link #graphState()}: each name with the parameter's identity and
     * trainable flag.
     */
    public static List<Object> parameterState(Map<String, Parameter> params) {
        List<Object> state = new ArrayList<>();
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            state.add(e.getKey());
            state.add(new Identity(e.getValue()));
            state.add(e.getValue().trainable());
        }
        return state;
    }

    /** Compares by identity whatever the object's equals. */
    private static final class Identity {
        private final Object o;

        Identity(Object o) {
            this.o = o;
        }

        @Override
        public boolean equals(Object other) {
            return other instanceof Identity && ((Identity) other).o == o;
        }

        @Override
        public int hashCode() {
            return System.identityHashCode(o);
        }
    }

    /**
     * Emits the decoder stack over the embeddings [B, T, hidden] and returns the final (normed) hidden states.
     */
    protected abstract Value decode(Graph g, Value embeddings, DecoderContext ctx);

    /**
     * The name of transformers' class for this model ({@code Qwen2ForCausalLM}, {@code GPT2LMHeadModel}): what PEFT
     * writes as {@code auto_mapping.base_model_class}, so {@code AutoPeftModel.from_pretrained} rebuilds the right
     * model.
     */
    public abstract String transformersClassName();

    /** The dotted module name of the token embedding ({@code model.embed_tokens}, {@code transformer.wte}). */
    public abstract String inputEmbeddingsName();

    /**
     * The token embedding layer: an {@link Embedding}, or whatever now takes its place in the tree (a PEFT wrapper).
     */
    public Layer inputEmbeddings() {
        return (Layer) getSubmodule(inputEmbeddingsName());
    }

    /** The dotted module name of the output embedding ({@code lm_head}). */
    public String outputEmbeddingsName() {
        return "lm_head";
    }

    /**
     * Whether generation must drop the key/value cache and recompute every position before the step whose input is
     * {@code sequenceLength} tokens long with {@code cachedLength} of them cached, as a transformers model's
     * {@code prepare_inputs_for_generation} override does (Phi-3, when its rope switches to the long factors). No by
     * default.
     */
    public boolean recomputeCacheForGeneration(long sequenceLength, long cachedLength) {
        return false;
    }

    /**
     * {@code num_hidden_layers}.
     *
     * @return the number of decoder layers
     */
    public abstract int numLayers();

    /**
     * The number of key/value heads per layer (fewer than the query heads for grouped-query attention).
     *
     * @return the number of key/value heads
     */
    public abstract int numKvHeads();

    /**
     * The width of one attention head.
     *
     * @return the head dimension
     */
    public abstract long headDim();

    /**
     * {@code vocab_size}: rows of the token embedding (token ids must be below it).
     *
     * @return the vocabulary size
     */
    public abstract long vocabSize();

    /**
     * {@code hidden_size}: the width of the residual stream.
     *
     * @return the hidden size
     */
    public abstract long hiddenSize();

    /** State-dict names that alias another parameter when embeddings are tied (left out when saving). */
    public abstract List<String> tiedWeightKeys();

    /**
     * Gives every parameter new storage with random values, as transformers' {@code _init_weights} does for a model
     * built from a config: normal(0, {@code initializer_range}) (0.02 when the config has none) for linear and
     * embedding weights, ones for normalisation weights (zeros for Gemma's {@code 1 + w} norms), zeros for biases.
     * See {@link #initWeights(long, double)}.
     */
    public void initWeights(long seed) {
        initWeights(seed, config.getDouble("initializer_range", 0.02));
    }

    /**
     * Gives every parameter new float32 storage: {@link RMSNorm#initialWeight()} (1, or 0 for Gemma) for the
     * weights of {@code RMSNorm}, ones for {@code LayerNorm}'s, zeros
     * for biases, normal(0, {@code std}) for everything else, drawn in {@code namedParameters()} order from
     * {@code new Random(seed)} (so a seed gives the same model every time; tied weights are drawn once).
     */
    public void initWeights(long seed, double std) {
        Random rnd = new Random(seed);
        for (Map.Entry<String, Parameter> e : namedParameters().entrySet()) {
            Parameter p = e.getValue();
            String name = e.getKey();
            int dot = name.lastIndexOf('.');
            Module owner = dot < 0 ? this : getSubmodule(name.substring(0, dot));
            boolean norm = owner instanceof RMSNorm || owner instanceof LayerNorm;
            float normWeight = owner instanceof RMSNorm r ? r.initialWeight() : 1f;
            boolean bias = name.endsWith("bias");
            float[] v = new float[Math.toIntExact(p.numel())];
            for (int i = 0; i < v.length; i++) {
                v[i] = bias ? 0f : norm ? normWeight : (float) (rnd.nextGaussian() * std);
            }
            p.setData(Tensor.of(v, p.shape()));
        }
    }

    /** The {@code eos_token_id} values of the config (possibly empty). */
    @Override
    public List<Long> eosTokenIds() {
        return config.getLongs("eos_token_id");
    }

    /**
     * Writes a Hugging Face folder: {@code config.json} and {@code model.safetensors} (tied aliases left out, as
     * transformers saves them). The two files are replaced together ({@link FolderSave}): after a crash at any moment the
     * folder holds the old or the new pair, or the next load or save completes the new one. A quantized model
     * writes its modules' quantized state (e.g. 4-bit packed weights and their quant-state entries) and its
     * {@link #quantizationConfig()} as config.json's {@code quantization_config}, so that transformers loads it
     * quantized.
     */
    public void savePretrained(Path dir) {
        LinkedHashMap<String, Tensor> sd = stateDict();
        for (String k : tiedWeightKeys()) {
            sd.remove(k);
        }
        String configJson = config.toJson();
        if (quantizationConfig != null) {
            com.google.gson.JsonObject json = config.tree();
            json.add("quantization_config", org.peft4j.internal.PlainJson.parseTrusted(quantizationConfig.toJson()));
            configJson = new ModelConfig(json, config.source()).toJson();
        }
        try (FolderSave save = FolderSave.begin(dir)) {
            SafeTensorsWriter.write(save.file("model.safetensors"), sd, SafeTensorsWriter.PT_METADATA);
            AtomicFiles.writeString(save.file("config.json"), configJson + "\n");
            save.commit();
        }
    }
}
