package org.peft4j.models.llama;

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
 * Llama, Mistral, Qwen2 and Qwen3 causal LMs ({@code model_type} llama, mistral, qwen2, qwen3): RMSNorm, rotary
 * embeddings
 * (default, linear and llama3 scaling), SwiGLU, grouped-query attention, optional attention bias (Qwen2: q, k, v
 * only), Qwen3's per-head q/k RMSNorm, tied or untied {@code lm_head}.
 */
public class LlamaForCausalLM extends DecoderForCausalLM {
    private final LlamaConfig cfg;

    /** A shape-only model (no weights allocated). */
    public LlamaForCausalLM(ModelConfig config, DType dtype) {
        super(config, dtype);
        this.cfg = new LlamaConfig(config);
        LlamaModel model = registerModule("model", new LlamaModel(cfg, dtype));
        Linear head = registerModule("lm_head", new Linear(cfg.hiddenSize, cfg.vocabSize, false, dtype));
        if (cfg.tieWordEmbeddings) {
            head.setWeight(((Embedding) model.child("embed_tokens")).weight());
        }
    }

    /**
     * The Llama-family settings read from config.json.
     *
     * @return the config
     */
    public LlamaConfig llamaConfig() {
        return cfg;
    }

    @Override
    protected Value decode(Graph g, Value embeddings, DecoderContext ctx) {
        return ((LlamaModel) child("model")).forward(g, embeddings, ctx);
    }

    /** {@code LlamaForCausalLM}, {@code MistralForCausalLM}, {@code Qwen2ForCausalLM} or {@code Qwen3ForCausalLM}. */
    @Override
    public String transformersClassName() {
        switch (config().modelType()) {
            case "mistral": return "MistralForCausalLM";
            case "qwen2": return "Qwen2ForCausalLM";
            case "qwen3": return "Qwen3ForCausalLM";
            default: return "LlamaForCausalLM";
        }
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
