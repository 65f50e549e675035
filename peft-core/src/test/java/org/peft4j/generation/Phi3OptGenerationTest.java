package org.peft4j.generation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.testutil.Fixtures;
import org.peft4j.testutil.FullGradients;

/**
 * Phi-3 and OPT against transformers (interop/make_family_fixtures_phi3_opt.py): greedy generation with the key/value
 * cache (10 new tokens from 5, single and left-padded batch; Phi-3 switches to its long rope factors when the
 * sequence passes original_max_position_embeddings 8, as transformers' dynamic longrope update), and one training
 * step's loss and gradients (left-padded batch) against torch autograd.
 */
class Phi3OptGenerationTest {
    static Path dir() {
        return Fixtures.root().resolve("phi3-opt").resolve("reference");
    }

    static PreTrainedModel load(String name) throws Exception {
        return AutoModelForCausalLM.fromPretrained(Fixtures.root().resolve("models").resolve(name));
    }

    @ParameterizedTest
    @ValueSource(strings = {"opt", "opt-proj", "phi3"})
    void greedyGenerationsMatchTransformers(String name) throws Exception {
        PreTrainedModel m = load(name);
        JsonObject ref = Fixtures.json(dir().resolve(name + ".json"));
        int maxNew = ref.get("max_new_tokens").getAsInt();
        Generator gen = new Generator(m);
        try (SafeTensors f = SafeTensors.open(dir().resolve(name + ".safetensors"))) {
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

    @ParameterizedTest
    @ValueSource(strings = {"opt", "opt-proj", "phi3"})
    void lossAndGradientsMatchTorch(String name) throws Exception {
        PreTrainedModel m = load(name);
        try (SafeTensors ref = SafeTensors.open(dir().resolve(name + ".safetensors"))) {
            FullGradients out = FullGradients.of(m, ref.get("train_input_ids"), ref.get("train_attention_mask"),
                    ref.get("train_labels"));
            assertThat(out.loss).isCloseTo(ref.get("train_loss").getFloat(0), within(1e-5));
            int compared = 0;
            for (Map.Entry<String, float[]> e : out.gradients.entrySet()) {
                String key = "train_grad." + e.getKey();
                if (!ref.keys().contains(key)) {
                    continue;
                }
                assertThat(FullGradients.relativeL2(e.getValue(), ref.get(key).toFloatArray())).as(e.getKey())
                        .isLessThan(1e-4);
                compared++;
            }
            assertThat(compared).isEqualTo(1 + (name.startsWith("opt") ? 4 : 2) * m.numLayers());
        }
    }
}
