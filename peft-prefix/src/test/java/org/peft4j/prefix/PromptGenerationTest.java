package org.peft4j.prefix;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.generation.Generator;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.PeftModel;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * Generation with prompt-learning adapters against PEFT 0.21.2 (interop/make_resume_fixtures.py,
 * {@code interop/fixtures/prompt-generate/}): a left-padded batch of two prompts of different lengths generates
 * PEFT's greedy tokens with the cache; sampling runs with the virtual tokens / prefixes and the cache, is a function
 * of the seed, and with top_k 1 is PEFT's greedy continuation.
 */
class PromptGenerationTest {
    static Path dir() {
        return Fixtures.root().resolve("prompt-generate");
    }

    static PeftModel loaded(String c) throws Exception {
        JsonObject info = Fixtures.json(dir().resolve("cases.json")).getAsJsonObject(c);
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model(info.get("model").getAsString()));
        return PeftModel.fromPretrained(m, Fixtures.root().resolve(info.get("adapter").getAsString()));
    }

    static Map<String, Tensor> ref(String c) throws Exception {
        return PtuneFixtures.read(dir().resolve(c + ".safetensors"));
    }

    /** PEFT pads a finished row with 0 after its eos: compare up to the eos. */
    static void assertSameTokens(PeftModel pm, long[][] got, long[][] want, int promptLength, String what) {
        long eos = pm.getBaseModel().config().getInt("eos_token_id");
        for (int i = 0; i < want.length; i++) {
            assertThat(PtuneFixtures.upToEos(got[i], promptLength, eos)).as("%s, row %d", what, i)
                    .containsExactly(PtuneFixtures.upToEos(want[i], promptLength, eos));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"pt-llama", "pt-gpt2", "ptun-mlp-llama", "prefix-llama-gqa", "prefix-gpt2-projection",
        "prefix-qwen2"})
    void leftPaddedBatchGeneratesPeftsGreedyTokens(String c) throws Exception {
        Map<String, Tensor> r = ref(c);
        long[][] ids = PtuneFixtures.rows(r.get("input_ids"));
        long[][] mask = PtuneFixtures.rows(r.get("attention_mask"));
        long[][] want = PtuneFixtures.rows(r.get("generated"));
        PeftModel pm = loaded(c);
        int newTokens = want[0].length - ids[0].length;
        GenerationConfig greedy = GenerationConfig.builder().maxNewTokens(newTokens).padTokenId(0L).build();
        assertSameTokens(pm, pm.generate(ids, mask, greedy), want, ids[0].length, c + ": greedy");
        // sampling with top_k 1 keeps only the argmax: the same continuation, through the sampling path
        GenerationConfig topOne = GenerationConfig.builder().maxNewTokens(newTokens).padTokenId(0L).doSample(true)
                .topK(1).seed(7).build();
        assertSameTokens(pm, pm.generate(ids, mask, topOne), want, ids[0].length, c + ": top_k 1 sampling");
    }

    @ParameterizedTest
    @ValueSource(strings = {"pt-llama", "ptun-mlp-llama", "prefix-llama-gqa", "prefix-gpt2-projection"})
    void samplingIsAFunctionOfTheSeedAndUsesTheAdapter(String c) throws Exception {
        Map<String, Tensor> r = ref(c);
        long[][] ids = PtuneFixtures.rows(r.get("input_ids"));
        long[][] mask = PtuneFixtures.rows(r.get("attention_mask"));
        PeftModel pm = loaded(c);
        GenerationConfig s1 = GenerationConfig.builder().maxNewTokens(24).padTokenId(0L).doSample(true)
                .temperature(1.5).seed(1).build();
        GenerationConfig s1again = GenerationConfig.builder().maxNewTokens(24).padTokenId(0L).doSample(true)
                .temperature(1.5).seed(1).build();
        GenerationConfig s2 = GenerationConfig.builder().maxNewTokens(24).padTokenId(0L).doSample(true)
                .temperature(1.5).seed(2).build();
        long[][] a = pm.generate(ids, mask, s1);
        assertThat(pm.generate(ids, mask, s1again)).as("same seed, same tokens").isDeepEqualTo(a);
        assertThat(pm.generate(ids, mask, s2)).as("another seed, other tokens").isNotEqualTo(a);
        // the same seed draws differently without the adapter: the sampled logits carry the virtual tokens
        long[][] base = new Generator(AutoModelForCausalLM.fromPretrained(Fixtures.model(Fixtures.json(dir()
                .resolve("cases.json")).getAsJsonObject(c).get("model").getAsString()))).generate(ids, mask, s1);
        assertThat(base).as("the base model with the same seed").isNotEqualTo(a);
    }
}
