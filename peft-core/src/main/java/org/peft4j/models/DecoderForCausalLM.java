package org.peft4j.models;

import java.util.List;
import org.peft4j.tensor.DType;

/**
 * A {@link PreTrainedModel} whose dimension accessors and tied-weight keys come from its family's {@link
 * DecoderConfig} (Llama, Mistral, Qwen2/3, Gemma 2, Phi-3, OPT): the one-line accessors each ForCausalLM class
 * used to repeat.
 */
public abstract class DecoderForCausalLM extends PreTrainedModel {

    /** See {@link PreTrainedModel#PreTrainedModel(ModelConfig, DType)}. */
    protected DecoderForCausalLM(ModelConfig config, DType dtype) {
        super(config, dtype);
    }

    /** The family's parsed configuration. */
    protected abstract DecoderConfig decoderConfig();

    @Override
    public final int numLayers() {
        return decoderConfig().numLayers();
    }

    @Override
    public final int numKvHeads() {
        return decoderConfig().numKvHeads();
    }

    @Override
    public final long headDim() {
        return decoderConfig().headDim();
    }

    @Override
    public final long vocabSize() {
        return decoderConfig().vocabSize();
    }

    @Override
    public final long hiddenSize() {
        return decoderConfig().hiddenSize();
    }

    /** {@code ["lm_head.weight"]} when {@code tie_word_embeddings}, else none. */
    @Override
    public List<String> tiedWeightKeys() {
        return decoderConfig().tieWordEmbeddings() ? List.of("lm_head.weight") : List.of();
    }
}
