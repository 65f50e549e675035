package org.peft4j.models.gpt2;

import java.util.List;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.DecoderContext;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.nn.Embedding;
import org.peft4j.nn.Linear;
import org.peft4j.tensor.DType;

/** GPT-2 with its language-model head (tied to {@code transformer.wte} by default). */
public class GPT2LMHeadModel extends PreTrainedModel {
    private final GPT2Config cfg;

    /** A shape-only model (no weights allocated). */
    public GPT2LMHeadModel(ModelConfig config, DType dtype) {
        super(config, dtype);
        this.cfg = new GPT2Config(config);
        GPT2Model t = registerModule("transformer", new GPT2Model(cfg, dtype));
        Linear head = registerModule("lm_head", new Linear(cfg.nEmbd, cfg.vocabSize, false, dtype));
        if (cfg.tieWordEmbeddings) {
            head.setWeight(((Embedding) t.child("wte")).weight());
        }
    }

    @Override
    protected Value decode(Graph g, Value embeddings, DecoderContext ctx) {
        return ((GPT2Model) child("transformer")).forward(g, embeddings, ctx);
    }

    @Override
    public String transformersClassName() {
        return "GPT2LMHeadModel";
    }

    @Override
    public String inputEmbeddingsName() {
        return "transformer.wte";
    }

    @Override
    public int numLayers() {
        return cfg.nLayer;
    }

    @Override
    public int numKvHeads() {
        return cfg.nHead;
    }

    @Override
    public long headDim() {
        return cfg.headDim();
    }

    @Override
    public long vocabSize() {
        return cfg.vocabSize;
    }

    @Override
    public long hiddenSize() {
        return cfg.nEmbd;
    }

    @Override
    public List<String> tiedWeightKeys() {
        return cfg.tieWordEmbeddings ? List.of("lm_head.weight") : List.of();
    }
}
