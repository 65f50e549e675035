package org.peft4j.prefix;

import com.google.gson.JsonObject;
import java.util.LinkedHashMap;
import java.util.Map;
import org.peft4j.data.HfTokenizer;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.nn.Embedding;
import org.peft4j.nn.Module;
import org.peft4j.peft.config.ConfigJson;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.peft.config.PeftType;
import org.peft4j.peft.tuners.PeftTuner;
import org.peft4j.peft.tuners.PromptLearningConfig;
import org.peft4j.peft.tuners.TunerModel;
import org.peft4j.tensor.Tensor;

/**
 * Prompt tuning (PEFT's {@code PromptEmbedding} under {@code PeftModelForCausalLM}): {@code num_virtual_tokens}
 * trainable embeddings ({@code prompt_encoder.<adapter>.embedding.weight}) prepended to the token embeddings. Saved as
 * {@code prompt_embeddings} {@code [num_virtual_tokens * num_transformer_submodules, token_dim]}, as PEFT's
 * {@code get_peft_model_state_dict}. Not thread-safe.
 */
public final class PromptTuningTuner extends PromptLearningBase {
    PromptTuningTuner(PreTrainedModel model) {
        super(model);
    }

    /** The registration for {@code peft_type} PROMPT_TUNING. */
    public static final class Registration implements PeftTuner {
        @Override
        public PeftType peftType() {
            return PeftType.PROMPT_TUNING;
        }

        @Override
        public PeftConfig parseConfig(ConfigJson json) {
            return PromptTuningConfig.fromJson(json);
        }

        @Override
        public TunerModel createModel(PreTrainedModel model) {
            return new PromptTuningTuner(model);
        }
    }

    @Override
    protected Module createPromptEncoder(String name, PromptLearningConfig config) {
        PromptTuningConfig cfg = (PromptTuningConfig) config;
        int total = totalVirtualTokens(cfg);
        PromptEmbedding e = new PromptEmbedding(total, cfg.tokenDim());
        Tensor w;
        if (cfg.inferenceMode() || cfg.promptTuningInit() == PromptTuningInit.RANDOM) {
            w = normal(rng(), total, cfg.tokenDim());
        } else if (cfg.promptTuningInit() == PromptTuningInit.SAMPLE_VOCAB) {
            long vocab = wordEmbeddings().numEmbeddings();
            long[] ids = new long[total];
            for (int i = 0; i < total; i++) {
                ids[i] = (long) (rng().nextDouble() * vocab);
            }
            w = embeddingRows(ids);
        } else {
            w = embeddingRows(textIds(cfg, total));
        }
        e.embedding().weight().setData(w);
        return e;
    }

    /**
     * PEFT's TEXT ids: {@code tokenizer(text)["input_ids"]}, truncated or repeated to {@code total}; the tokenizer
     * loaded with {@code tokenizer_kwargs} as far as peft4j can honour them ({@link TokenizerKwargs}).
     */
    static long[] textIds(PromptTuningConfig cfg, int total) {
        long[] ids;
        if (cfg.tokenizer() != null) {
            JsonObject kw = cfg.tokenizerKwargsTree() == null ? new JsonObject() : cfg.tokenizerKwargsTree().deepCopy();
            kw.remove("trust_remote_code");
            TokenizerKwargs.check(kw);
            if (kw.has("add_prefix_space") || kw.has("subfolder")) {
                throw new IllegalArgumentException("tokenizer_kwargs " + kw.keySet() + " change how the tokenizer is "
                        + "loaded: give tokenizer_name_or_path without a Tokenizer object");
            }
            ids = cfg.tokenizer().encode(cfg.promptTuningInitText(), true);
        } else {
            try (HfTokenizer tok = TokenizerKwargs.load(cfg.tokenizerNameOrPath(), cfg.tokenizerKwargsTree())) {
                ids = tok.encode(cfg.promptTuningInitText(), true);
            }
        }
        if (ids.length == 0) {
            throw new IllegalArgumentException("prompt_tuning_init_text '" + cfg.promptTuningInitText()
                    + "' has no tokens");
        }
        long[] out = new long[total];
        for (int i = 0; i < total; i++) {
            out[i] = ids[i % ids.length];
        }
        return out;
    }

    @Override
    protected Value virtualTokens(Graph g, String adapter, Module encoder, Value batchSize) {
        return expandToBatch(g, adapter, ((PromptEmbedding) encoder).forward(g), batchSize);
    }

    @Override
    public LinkedHashMap<String, Tensor> adapterStateDict(String name) {
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        out.put(PROMPT_EMBEDDINGS, ((PromptEmbedding) promptEncoder(name)).embedding().weight().data());
        return out;
    }

    @Override
    public Module.LoadResult loadAdapterStateDict(Map<String, Tensor> saved, String name) {
        return loadPromptEmbeddings(saved, name, ((PromptEmbedding) promptEncoder(name)).embedding());
    }
}
