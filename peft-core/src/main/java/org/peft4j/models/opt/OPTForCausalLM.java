package org.peft4j.models.opt;

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
 * OPT causal LM ({@code model_type} opt), as transformers' {@code OPTForCausalLM}: learned positions (offset 2,
 * computed from the attention mask so left padding works as in transformers), LayerNorm before or after
 * ({@code do_layer_norm_before}), ReLU fc1/fc2, {@code project_in}/{@code project_out} when
 * {@code word_embed_proj_dim} differs from {@code hidden_size} (opt-350m), {@code lm_head} tied to
 * {@code model.decoder.embed_tokens} by default.
 */
public class OPTForCausalLM extends DecoderForCausalLM {
    private final OPTConfig cfg;

    /** A shape-only model (no weights allocated). */
    public OPTForCausalLM(ModelConfig config, DType dtype) {
        super(config, dtype);
        this.cfg = new OPTConfig(config);
        OPTModel model = registerModule("model", new OPTModel(cfg, dtype));
        Linear head = registerModule("lm_head", new Linear(cfg.wordEmbedProjDim, cfg.vocabSize, false, dtype));
        if (cfg.tieWordEmbeddings) {
            head.setWeight(((Embedding) model.getSubmodule("decoder.embed_tokens")).weight());
        }
    }

    @Override
    protected Value decode(Graph g, Value embeddings, DecoderContext ctx) {
        return ((OPTDecoder) getSubmodule("model.decoder")).forward(g, embeddings, ctx);
    }

    @Override
    public String transformersClassName() {
        return "OPTForCausalLM";
    }

    @Override
    public String inputEmbeddingsName() {
        return "model.decoder.embed_tokens";
    }

    @Override
    protected DecoderConfig decoderConfig() {
        return cfg;
    }
}
