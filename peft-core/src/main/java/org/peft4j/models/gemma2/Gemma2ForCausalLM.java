package org.peft4j.models.gemma2;

import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.CausalLMInput;
import org.peft4j.models.CausalLMOutput;
import org.peft4j.models.DecoderConfig;
import org.peft4j.models.DecoderContext;
import org.peft4j.models.DecoderForCausalLM;
import org.peft4j.models.ModelConfig;
import org.peft4j.nn.Embedding;
import org.peft4j.nn.Linear;
import org.peft4j.tensor.DType;

/**
 * Gemma 2 causal LM ({@code model_type} gemma2), as transformers' {@code Gemma2ForCausalLM}: token embeddings scaled
 * by {@code sqrt(hidden_size)}, {@code (1 + w)} RMSNorms computed in float32, pre- and post-norms around attention
 * and the GeGLU feed-forward, grouped-query attention scaled by {@code query_pre_attn_scalar ** -0.5} with soft-capped
 * scores, alternating sliding-window and full layers ({@code layer_types}), tied {@code lm_head} and soft-capped
 * logits ({@code tanh(logits / final_logit_softcapping) * final_logit_softcapping}).
 */
public class Gemma2ForCausalLM extends DecoderForCausalLM {
    private final Gemma2Config cfg;

    /** A shape-only model (no weights allocated). */
    public Gemma2ForCausalLM(ModelConfig config, DType dtype) {
        super(config, dtype);
        this.cfg = new Gemma2Config(config);
        Gemma2Model model = registerModule("model", new Gemma2Model(cfg, dtype));
        Linear head = registerModule("lm_head", new Linear(cfg.hiddenSize, cfg.vocabSize, false, dtype));
        if (cfg.tieWordEmbeddings) {
            head.setWeight(((Embedding) model.child("embed_tokens")).weight());
        }
    }

    /**
     * The Gemma 2 settings read from config.json.
     *
     * @return the config
     */
    public Gemma2Config gemma2Config() {
        return cfg;
    }

    /** The base forward, then the final logit soft-capping (on every position, the loss's included). */
    @Override
    public CausalLMOutput forward(Graph g, CausalLMInput input) {
        CausalLMOutput out = super.forward(g, input);
        if (cfg.finalLogitSoftcapping == null) {
            return out;
        }
        Value logits = Gemma2Attention.softcap(g, out.logits(), cfg.finalLogitSoftcapping);
        return new CausalLMOutput(logits, out.hiddenStates(), out.presentKeys(), out.presentValues());
    }

    @Override
    protected Value decode(Graph g, Value embeddings, DecoderContext ctx) {
        return ((Gemma2Model) child("model")).forward(g, embeddings, ctx);
    }

    @Override
    public String transformersClassName() {
        return "Gemma2ForCausalLM";
    }

    @Override
    public String inputEmbeddingsName() {
        return "model.embed_tokens";
    }

    @Override
    protected DecoderConfig decoderConfig() {
        return cfg;
    }
}
