package org.peft4j.generation;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.testutil.Fixtures;

/**
 * Greedy generation with the key/value cache on sliding-window models matches transformers' generate() (whose
 * sliding cache layers keep only the last window - 1 positions): 10 new tokens from a 7-token prompt, window 4
 * (Mistral) and 3 (Qwen2, layer 0 full), single and left-padded batch (interop/make_sliding_window_fixtures.py).
 */
class SlidingWindowGenerationTest {

    @ParameterizedTest
    @ValueSource(strings = {"mistral-swa", "qwen2-swa"})
    void greedyGenerationsMatchTransformers(String name) throws Exception {
        Path dir = Fixtures.root().resolve("sliding-window");
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(dir.resolve("models").resolve(name));
        JsonObject ref = Fixtures.json(dir.resolve("reference").resolve(name + ".json"));
        int maxNew = ref.get("max_new_tokens").getAsInt();
        Generator gen = new Generator(m);
        try (SafeTensors f = SafeTensors.open(dir.resolve("reference").resolve(name + ".safetensors"))) {
            GenerationConfig one = GenerationConfig.builder().maxNewTokens(maxNew)
                    .eosTokenId(ref.get("gen_eos_token_id").getAsLong()).build();
            long[] out = gen.generate(GenerationParityTest.rows(f.get("gen_prompt"))[0], one);
            assertThat(out).containsExactly(GenerationParityTest.rows(f.get("gen_output"))[0]);
            GenerationConfig batch = GenerationConfig.builder().maxNewTokens(maxNew)
                    .eosTokenId(ref.get("genb_eos_token_id").getAsLong())
                    .padTokenId(ref.get("pad_token_id").getAsLong()).build();
            long[][] outB = gen.generate(GenerationParityTest.rows(f.get("genb_prompt")),
                    GenerationParityTest.rows(f.get("genb_mask")), batch);
            long[][] wantB = GenerationParityTest.rows(f.get("genb_output"));
            for (int b = 0; b < wantB.length; b++) {
                assertThat(outB[b]).as("row " + b).containsExactly(wantB[b]);
            }
        }
    }
}
