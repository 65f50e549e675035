package org.peft4j.prefix;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Shape;
import org.peft4j.graph.Value;
import org.peft4j.models.CausalLMInput;
import org.peft4j.models.CausalLMOutput;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.nn.Module;
import org.peft4j.peft.config.ConfigJson;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.peft.config.PeftType;
import org.peft4j.peft.tuners.PeftTuner;
import org.peft4j.peft.tuners.PromptLearningConfig;
import org.peft4j.peft.tuners.PromptLearningTuner;
import org.peft4j.peft.tuners.TunerModel;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * Prefix tuning as PEFT 0.21.2's {@code PeftModelForCausalLM} does it: the active {@link PrefixEncoder}'s output
 * [num_virtual_tokens, num_layers*2*token_dim] is cast to the model's dtype, viewed as {@code [n, num_layers*2,
 * heads, head_dim]} and permuted to {@code [num_layers*2, heads, n, head_dim]} ({@code get_prompt}); rows
 * {@code 2i} and {@code 2i+1} are layer {@code i}'s keys and values, broadcast over the batch and seeded as the
 * key/value cache in front of the real tokens. The attention mask gets {@code n} ones in front, explicit position
 * ids move by {@code n} (without them the model counts from the cache length {@code n}), and the logits cover the
 * real tokens only (nothing to drop). For a grouped-query model {@code heads} and {@code token_dim} are the
 * key/value heads' ({@link PrefixTuningConfig#prepareFor}). With a generation cache the prefix enters on the prompt
 * step only (empty cache); later steps find it in the cache.
 *
 * <p>Saved as PEFT saves it: {@code {"prompt_embeddings": encoder output}} (the projection's weights are not saved);
 * loading builds the inference-mode encoder (a plain embedding) and copies the tensor into it. Not thread-safe.
 */
public final class PrefixTuner extends PromptLearningTuner {
    PrefixTuner(PreTrainedModel model) {
        super(model);
    }

    /** The {@code PREFIX_TUNING} registration ({@code META-INF/services/org.peft4j.peft.tuners.PeftTuner}). */
    public static final class Registration implements PeftTuner {
        @Override
        public PeftType peftType() {
            return PeftType.PREFIX_TUNING;
        }

        @Override
        public PeftConfig parseConfig(ConfigJson json) {
            return PrefixTuningConfig.fromJson(json);
        }

        @Override
        public TunerModel createModel(PreTrainedModel model) {
            return new PrefixTuner(model);
        }
    }

    /**
     * {@inheritDoc}
     *
     * @throws IllegalArgumentException as PEFT: {@code "PREFIX_TUNING does not work with gradient checkpointing."}
     *     when the base model has gradient checkpointing on, or when the prefix's shape does not fit the model's
     *     key/value cache
     */
    @Override
    protected Module createPromptEncoder(String name, PromptLearningConfig config) {
        PrefixTuningConfig c = (PrefixTuningConfig) config;
        if (model.isGradientCheckpointing()) {
            // PEFT's _setup_prompt_encoder: the prefix lives in the cache, which checkpointing does not keep
            throw new IllegalArgumentException("PREFIX_TUNING does not work with gradient checkpointing.");
        }
        int heads = c.numAttentionHeads();
        if (c.tokenDim() % heads != 0 || heads != model.numKvHeads() || c.tokenDim() / heads != model.headDim()
                || c.numLayers() != model.numLayers()) {
            throw new IllegalArgumentException("The prefix of adapter " + name + " (num_layers=" + c.numLayers()
                    + ", num_attention_heads=" + heads + ", token_dim=" + c.tokenDim() + ") does not fit the model's "
                    + "key/value cache (" + model.numLayers() + " layers of " + model.numKvHeads() + " key/value heads "
                    + "of size " + model.headDim() + ")");
        }
        return new PrefixEncoder(c, rng());
    }

    /** Prefix tuning feeds key/value prefixes ({@link #transformInput}), never virtual token embeddings. */
    @Override
    protected Value virtualTokens(Graph g, String adapter, Module encoder, Value batchSize) {
        throw new UnsupportedOperationException("prefix tuning has no virtual token embeddings");
    }

    private String activeName() {
        return activeAdapters().get(0);
    }

    @Override
    public CausalLMInput transformInput(Graph g, CausalLMInput input) {
        if (!anyAdapterEnabled()) {
            return input;
        }
        PrefixTuningConfig c = (PrefixTuningConfig) config(activeName());
        int n = c.numVirtualTokens();
        long layers = c.numLayers();
        long heads = c.numAttentionHeads();
        long headDim = c.tokenDim() / heads;
        Value batch = g.dimOf(input.inputIds(), 0);
        List<Value> keys = new ArrayList<>();
        List<Value> values = new ArrayList<>();
        try (Graph.Scope s = g.scope("prompt_encoder")) {
            Value flat = ((PrefixEncoder) promptEncoder(activeName())).forward(g);
            if (model.dtype() != DType.F32) {
                flat = g.cast(flat, model.dtype());
            }
            // view(n, 2L, heads, head_dim).permute -> [2L, heads, n, head_dim]
            Value kv = g.transpose(g.reshape(flat, n, 2 * layers, heads, headDim), 1, 2, 0, 3);
            Value target = g.concat(0, g.unsqueeze(batch, 0), g.ints(heads, n, headDim));
            Shape shape = Shape.of(input.inputIds().shape().dim(0), Dim.of(heads), Dim.of(n), Dim.of(headDim));
            for (int i = 0; i < layers; i++) {
                keys.add(g.expand(g.unsqueeze(g.gather(kv, g.intScalar(2L * i), 0), 0), target, shape));
                values.add(g.expand(g.unsqueeze(g.gather(kv, g.intScalar(2L * i + 1), 0), 0), target, shape));
            }
        }
        if (input.pastKeys() != null) {
            // generation: the prefix enters with the prompt step only (an empty cache), later steps hold it already
            Value empty = g.equal(g.dimOf(input.pastKeys().get(0), 2), g.intScalar(0));
            Value taken = g.unsqueeze(g.mul(g.cast(empty, DType.I64), g.intScalar(n)), 0);
            for (int i = 0; i < layers; i++) {
                keys.set(i, withPast(g, keys.get(i), taken, input.pastKeys().get(i)));
                values.set(i, withPast(g, values.get(i), taken, input.pastValues().get(i)));
            }
        }
        CausalLMInput out = CausalLMInput.of(input.inputIds()).past(keys, values).useCache(input.useCache());
        if (input.prefixEmbeds() != null) {
            out.prefixEmbeds(input.prefixEmbeds());
        }
        if (input.attentionMask() != null) {
            Value ones = g.node("ConstantOfShape", "", List.of(g.concat(0, g.unsqueeze(batch, 0), g.ints(n))),
                    List.of(DType.I64), List.of(Shape.of(input.attentionMask().shape().dim(0), Dim.of(n))),
                    Map.of("value", Tensor.of(new long[] {1}, 1))).output(0);
            out.attentionMask(g.concat(1, ones, input.attentionMask()));
        }
        if (input.positionIds() != null) {
            out.positionIds(g.add(input.positionIds(), g.intScalar(n)));
        }
        return out;
    }

    /** {@code concat(prefix[:, :, :taken], past)} along the sequence axis. */
    private static Value withPast(Graph g, Value prefix, Value taken, Value past) {
        Value head = g.slice(prefix, g.ints(0), taken, 2, prefix.shape().with(2, Dim.unknown()));
        return g.concat(2, head, past);
    }

    /** The logits already cover exactly the real tokens: nothing to drop. */
    @Override
    public CausalLMOutput transformOutput(Graph g, CausalLMInput input, CausalLMOutput output) {
        return output;
    }

    /** {@code {"prompt_embeddings": [n, num_layers*2*token_dim]}}: the encoder's output, as PEFT saves it. */
    @Override
    public LinkedHashMap<String, Tensor> adapterStateDict(String name) {
        PrefixEncoder e = encoder(name);
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        out.put("prompt_embeddings", e.promptEmbeddings());
        return out;
    }

    /**
     * Copies {@code prompt_embeddings} into the encoder's embedding, as PEFT's {@code _load_adapter_state_dict}
     * ({@code strict=True}).
     *
     * @throws IllegalArgumentException if the key is missing, the shapes differ, or the encoder has the projection
     *     (a flattened prefix cannot be inverted to its parameters)
     */
    @Override
    public Module.LoadResult loadAdapterStateDict(Map<String, Tensor> saved, String name) {
        PrefixEncoder e = encoder(name);
        Tensor t = saved.get("prompt_embeddings");
        if (t == null) {
            throw new IllegalArgumentException("Missing key(s) in state_dict: \"prompt_embeddings\" (found "
                    + saved.keySet() + ")");
        }
        if (e.hasProjection()) {
            throw new IllegalArgumentException("Cannot load flattened prompt embeddings when `prefix_projection=True`.");
        }
        long[] want = e.embedding().weight().shape();
        if (!Arrays.equals(t.shape(), want)) {
            throw new IllegalArgumentException("Error(s) in loading state_dict for Embedding:\n\tsize mismatch for "
                    + "weight: copying a param with shape torch.Size(" + Arrays.toString(t.shape()) + ") from "
                    + "checkpoint, the shape in current model is torch.Size(" + Arrays.toString(want) + ").");
        }
        e.embedding().weight().setData(t.dtype() == DType.F32 ? t.copy() : t.to(DType.F32));
        List<String> unexpected = new ArrayList<>(saved.keySet());
        unexpected.remove("prompt_embeddings");
        return new Module.LoadResult(List.of(), unexpected);
    }

    private PrefixEncoder encoder(String name) {
        Module m = promptEncoder(name);
        if (m == null) {
            throw new IllegalArgumentException("Adapter " + name + " not found.");
        }
        return (PrefixEncoder) m;
    }
}
