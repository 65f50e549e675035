package org.peft4j.generation;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/** Greedy generations (with the key/value cache) match transformers' generate() token for token. */
class GenerationParityTest {

    static long[][] rows(Tensor t) {
        long[] flat = t.toLongArray();
        int n = (int) t.dim(0);
        int m = (int) t.dim(1);
        long[][] out = new long[n][m];
        for (int i = 0; i < n; i++) {
            System.arraycopy(flat, i * m, out[i], 0, m);
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-mha", "llama-gqa", "mistral", "qwen2", "gpt2"})
    void greedyGenerationsMatch(String name) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model(name));
        JsonObject ref = Fixtures.referenceJson(name);
        int maxNew = ref.get("max_new_tokens").getAsInt();
        Generator gen = new Generator(m);
        try (SafeTensors f = SafeTensors.open(Fixtures.reference(name))) {
            for (String k : List.of("gen0", "gen1")) {
                GenerationConfig cfg = GenerationConfig.builder().maxNewTokens(maxNew)
                        .eosTokenId(ref.get(k + "_eos_token_id").getAsLong()).build();
                long[] out = gen.generate(rows(f.get(k + "_prompt"))[0], cfg);
                assertThat(out).as(k).containsExactly(rows(f.get(k + "_output"))[0]);
            }
            // eos occurs: generation stops right after it
            GenerationConfig eos = GenerationConfig.builder().maxNewTokens(maxNew)
                    .eosTokenId(ref.get("gen_eos_token_id").getAsLong()).build();
            long[] stopped = gen.generate(rows(f.get("gen_eos_prompt"))[0], eos);
            long[] want = rows(f.get("gen_eos_output"))[0];
            assertThat(stopped).containsExactly(want);
            assertThat(stopped[stopped.length - 1]).isEqualTo(ref.get("gen_eos_token_id").getAsLong());
            // left-padded batch: positions from the mask, pad token for finished rows
            GenerationConfig batch = GenerationConfig.builder().maxNewTokens(maxNew)
                    .eosTokenId(ref.get("genb_eos_token_id").getAsLong())
                    .padTokenId(ref.get("pad_token_id").getAsLong()).build();
            long[][] outB = gen.generate(rows(f.get("genb_prompt")), rows(f.get("genb_mask")), batch);
            long[][] wantB = rows(f.get("genb_output"));
            for (int b = 0; b < wantB.length; b++) {
                assertThat(outB[b]).as("row " + b).containsExactly(wantB[b]);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa", "gpt2"})
    void positionIdsFollowTransformers(String name) throws Exception {
        try (SafeTensors f = SafeTensors.open(Fixtures.reference(name))) {
            long[][] mask = rows(f.get("genb_mask"));
            long[][] want = rows(f.get("genb_position_ids"));
            int total = want[0].length;
            List<long[]> full = new java.util.ArrayList<>();
            for (long[] r : mask) {
                long[] m = java.util.Arrays.copyOf(r, total);
                java.util.Arrays.fill(m, r.length, total, 1);
                full.add(m);
            }
            long[][] got = Generator.positions(full, total);
            for (int b = 0; b < want.length; b++) {
                assertThat(got[b]).containsExactly(want[b]);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa", "gpt2"})
    void incrementalDecodingEqualsFullRecompute(String name) throws Exception {
        // independent of the cache: logits of the full sequence at each generated position pick the same token
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model(name));
        long[] prompt = {3, 17, 42, 5};
        long[] out = new Generator(m).generate(prompt, GenerationConfig.greedy(8));
        Tensor logits = m.logits(Tensor.of(out, 1, out.length), null);
        int vocab = (int) logits.dim(-1);
        float[] l = logits.toFloatArray();
        for (int t = prompt.length - 1; t < out.length - 1; t++) {
            float[] row = java.util.Arrays.copyOfRange(l, t * vocab, (t + 1) * vocab);
            assertThat((long) LogitsSampler.argmax(row)).as("position " + t).isEqualTo(out[t + 1]);
        }
    }
}
