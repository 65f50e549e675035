package org.peft4j.models.phi3;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.DecoderConfig;
import org.peft4j.models.DecoderContext;
import org.peft4j.models.DecoderForCausalLM;
import org.peft4j.models.ModelConfig;
import org.peft4j.nn.Embedding;
import org.peft4j.nn.Linear;
import org.peft4j.tensor.DType;

/**
 * Phi-3 causal LM ({@code model_type} phi3), as transformers' {@code Phi3ForCausalLM}: fused {@code qkv_proj} and
 * {@code gate_up_proj} (SiLU gate), RMSNorm, grouped-query attention with an optional sliding window, rotary
 * embeddings on {@code partial_rotary_factor} of each head with {@code longrope} scaling (short factors up to
 * {@code original_max_position_embeddings}, long factors beyond, cos/sin scaled by the attention factor), untied
 * {@code lm_head} by default.
 */
public class Phi3ForCausalLM extends DecoderForCausalLM {
    private final Phi3Config cfg;

    /** A shape-only model (no weights allocated). */
    public Phi3ForCausalLM(ModelConfig config, DType dtype) {
        super(config, dtype);
        this.cfg = new Phi3Config(config);
        Phi3Model model = registerModule("model", new Phi3Model(cfg, dtype));
        Linear head = registerModule("lm_head", new Linear(cfg.hiddenSize, cfg.vocabSize, false, dtype));
        if (cfg.tieWordEmbeddings) {
            head.setWeight(((Embedding) model.child("embed_tokens")).weight());
        }
    }

    /** The typed config. */
    public Phi3Config phi3Config() {
        return cfg;
    }

    @Override
    protected Value decode(Graph g, Value embeddings, DecoderContext ctx) {
        return ((Phi3Model) child("model")).forward(g, embeddings, ctx);
    }

    @Override
    public String transformersClassName() {
        return "Phi3ForCausalLM";
    }

    @Override
    public String inputEmbeddingsName() {
        return "model.embed_tokens";
    }

    /**
     * Phi3ForCausalLM.prepare_inputs_for_generation: when the sequence first reaches
     * {@code original_max_position_embeddings + 1} tokens with at most that many cached, the cache (whose keys were
     * rotated with the short factors) is dropped and every position recomputed.
     */
    @Override
    public boolean recomputeCacheForGeneration(long sequenceLength, long cachedLength) {
        long orig = cfg.originalMaxPositionEmbeddings;
        return sequenceLength >= orig + 1 && cachedLength <= orig;
    }

    @Override
    protected DecoderConfig decoderConfig() {
        return cfg;
    }
}
