package org.peft4j.prefix;

import java.util.LinkedHashMap;
import java.util.Map;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.nn.Module;
import org.peft4j.peft.config.ConfigJson;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.peft.config.PeftType;
import org.peft4j.peft.tuners.PeftTuner;
import org.peft4j.peft.tuners.PromptLearningConfig;
import org.peft4j.peft.tuners.TunerModel;
import org.peft4j.runtime.CompiledGraph;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.Tensor;

/**
 * P-tuning (PEFT's {@code PromptEncoder} under {@code PeftModelForCausalLM}): the virtual tokens are the output of an
 * MLP or bidirectional-LSTM encoder over trainable embeddings, prepended to the token embeddings. As PEFT, only the
 * encoder's output is saved ({@code prompt_embeddings}); a loaded adapter is an inference-mode encoder (the embedding
 * alone, holding that output). Not thread-safe.
 */
public final class PTuningTuner extends PromptLearningBase {
    PTuningTuner(PreTrainedModel model) {
        super(model);
    }

    /** The registration for {@code peft_type} P_TUNING. */
    public static final class Registration implements PeftTuner {
        @Override
        public PeftType peftType() {
            return PeftType.P_TUNING;
        }

        @Override
        public PeftConfig parseConfig(ConfigJson json) {
            return PromptEncoderConfig.fromJson(json);
        }

        @Override
        public TunerModel createModel(PreTrainedModel model) {
            return new PTuningTuner(model);
        }
    }

    @Override
    protected Module createPromptEncoder(String name, PromptLearningConfig config) {
        return new PromptEncoder((PromptEncoderConfig) config, rng());
    }

    @Override
    protected Value virtualTokens(Graph g, String adapter, Module encoder, Value batchSize) {
        return expandToBatch(g, adapter, ((PromptEncoder) encoder).forward(g), batchSize);
    }

    /**
     * {@code prompt_embeddings}: the encoder's output for all virtual tokens (PEFT's
     * {@code get_prompt_embedding_to_save}), or the embedding itself in inference mode.
     */
    @Override
    public LinkedHashMap<String, Tensor> adapterStateDict(String name) {
        PromptEncoder enc = (PromptEncoder) promptEncoder(name);
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        if (!enc.hasHead()) {
            out.put(PROMPT_EMBEDDINGS, enc.embedding().weight().data());
            return out;
        }
        Graph g = new Graph();
        g.output(PROMPT_EMBEDDINGS, g.squeeze(enc.forward(g), 0));
        // the parameters are fed as inputs: a graph of initializers only would be constant-folded by ONNX Runtime,
        // whose optimizer then fails on the folded Reshapes ("Attempting to get index by a name which does not exist")
        Map<String, Tensor> feed = new LinkedHashMap<>();
        for (Value p : g.parameters()) {
            feed.put(p.name(), p.parameter().data());
        }
        try (CompiledGraph cg = OrtRuntime.shared().compile(g, p -> true)) {
            out.put(PROMPT_EMBEDDINGS, cg.run(feed).get(PROMPT_EMBEDDINGS));
        }
        return out;
    }

    @Override
    public Module.LoadResult loadAdapterStateDict(Map<String, Tensor> saved, String name) {
        PromptEncoder enc = (PromptEncoder) promptEncoder(name);
        if (enc.hasHead()) {
            // PEFT: "Cannot set a prompt learning adapter to trainable when loading pretrained adapter."
            throw new IllegalStateException("Cannot set a prompt learning adapter to trainable when loading "
                    + "pretrained adapter.");
        }
        return loadPromptEmbeddings(saved, name, enc.embedding());
    }
}
