package org.peft4j.peft.prompt;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Shape;
import org.peft4j.graph.Value;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.nn.Embedding;
import org.peft4j.nn.Module;
import org.peft4j.peft.config.ConfigJson;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.peft.config.PeftType;
import org.peft4j.peft.tuners.PeftTuner;
import org.peft4j.peft.tuners.PromptLearningConfig;
import org.peft4j.peft.tuners.PromptLearningTuner;
import org.peft4j.peft.tuners.TunerModel;
import org.peft4j.tensor.Tensor;

/**
 * Test-only proof that a prompt-learning method plugs into the core without special cases: an {@code Embedding} of
 * {@code num_virtual_tokens} rows whose output is prepended to the token embeddings by {@link PromptLearningTuner}.
 * Registered for MULTITASK_PROMPT_TUNING (not PROMPT_TUNING, which peft-prefix provides and which this
 * test-jar would otherwise claim a second time on peft-prefix's test class path) through the test class path's {@code META-INF/services}.
 */
public final class VirtualTokensTuner extends PromptLearningTuner {
    VirtualTokensTuner(PreTrainedModel model) {
        super(model);
    }

    /** The registration. */
    public static final class Registration implements PeftTuner {
        @Override
        public PeftType peftType() {
            return PeftType.MULTITASK_PROMPT_TUNING;
        }

        @Override
        public PeftConfig parseConfig(ConfigJson json) {
            return VirtualTokensConfig.fromJson(json);
        }

        @Override
        public TunerModel createModel(PreTrainedModel model) {
            return new VirtualTokensTuner(model);
        }
    }

    @Override
    protected Module createPromptEncoder(String name, PromptLearningConfig config) {
        Embedding e = new Embedding(config.numVirtualTokens(), config.tokenDim(), model.dtype());
        Random rnd = new Random(name.hashCode());
        float[] v = new float[config.numVirtualTokens() * config.tokenDim()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (rnd.nextGaussian() * 0.02);
        }
        e.weight().setData(Tensor.of(v, config.numVirtualTokens(), config.tokenDim()));
        return e;
    }

    @Override
    protected Value virtualTokens(Graph g, String adapter, Module encoder, Value batchSize) {
        int n = config(adapter).numVirtualTokens();
        Value rows = ((Embedding) encoder).forward(g, g.unsqueeze(g.range(g.intScalar(0), g.intScalar(n),
                g.intScalar(1)), 0));                                       // [1, n, hidden]
        Value shape = g.concat(0, g.unsqueeze(batchSize, 0), g.ints(n, config(adapter).tokenDim()));
        return g.expand(rows, shape, Shape.of(Dim.of("batch"), Dim.of(n), Dim.of(config(adapter).tokenDim())));
    }

    /** The loss hook: {@code loss + l2 * sum(prompt^2)} for the active adapter when its config asks for it. */
    @Override
    public Value transformLoss(Graph g, Value loss) {
        if (activeAdapters().isEmpty() || !anyAdapterEnabled()) {
            return loss;
        }
        String a = activeAdapters().get(0);
        double l2 = ((VirtualTokensConfig) config(a)).l2;
        if (l2 == 0) {
            return loss;
        }
        Value w = g.param(((Embedding) promptEncoder(a)).weight());
        return g.add(loss, g.mulScalar(g.reduceSum(g.mul(w, w), false, 0, 1), l2));
    }

    @Override
    public LinkedHashMap<String, Tensor> adapterStateDict(String name) {
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        out.put("prompt_embeddings", ((Embedding) promptEncoder(name)).weight().data());
        return out;
    }

    @Override
    public Module.LoadResult loadAdapterStateDict(Map<String, Tensor> saved, String name) {
        ((Embedding) promptEncoder(name)).weight().setData(saved.get("prompt_embeddings"));
        return new Module.LoadResult(List.of(), List.of());
    }
}
