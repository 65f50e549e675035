package org.peft4j.models.chatglm;

import java.util.List;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.DecoderContext;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.tensor.DType;

/**
 * ChatGLM2 / ChatGLM3 causal LM ({@code model_type} chatglm), THUDM's {@code ChatGLMForConditionalGeneration}:
 * fused {@code query_key_value} with multi-query groups, rotary embedding on half of each head (interleaved pairs,
 * base {@code 10000 * rope_ratio}), SwiGLU {@code dense_h_to_4h} / {@code dense_4h_to_h}, RMSNorm (or LayerNorm),
 * and {@code transformer.output_layer} as the output head. Module names are modeling_chatglm's
 * ({@code transformer.encoder.layers.N.self_attention.query_key_value}, ...).
 */
public class ChatGLMForConditionalGeneration extends PreTrainedModel {
    private final ChatGLMConfig cfg;

    /** A shape-only model (no weights allocated). */
    public ChatGLMForConditionalGeneration(ModelConfig config, DType dtype) {
        super(config, dtype);
        this.cfg = new ChatGLMConfig(config);
        registerModule("transformer", new ChatGLMModel(cfg, dtype));
    }

    /**
     * The ChatGLM settings read from config.json.
     *
     * @return the config
     */
    public ChatGLMConfig chatglmConfig() {
        return cfg;
    }

    @Override
    protected Value decode(Graph g, Value embeddings, DecoderContext ctx) {
        return ((ChatGLMModel) child("transformer")).forward(g, embeddings, ctx);
    }

    @Override
    public String transformersClassName() {
        return "ChatGLMForConditionalGeneration";
    }

    @Override
    public String inputEmbeddingsName() {
        return "transformer.embedding.word_embeddings";
    }

    @Override
    public String outputEmbeddingsName() {
        return "transformer.output_layer";
    }

    @Override
    public int numLayers() {
        return cfg.numLayers;
    }

    @Override
    public int numKvHeads() {
        return cfg.multiQueryGroupNum;
    }

    @Override
    public long headDim() {
        return cfg.kvChannels;
    }

    @Override
    public long vocabSize() {
        return cfg.vocabSize;
    }

    @Override
    public long hiddenSize() {
        return cfg.hiddenSize;
    }

    @Override
    public List<String> tiedWeightKeys() {
        return List.of();
    }
}
