package org.peft4j.prefix;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.PeftModel;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.testutil.Fixtures;

/**
 * Prefix tuning on Phi-3 and OPT through the CausalLM contract, against PEFT 0.21.2
 * (interop/make_family_fixtures_phi3_opt.py): a PEFT-saved prefix (3 virtual tokens) gives PEFT's logits on a
 * left-padded batch (OPT's positions come from the mask including the prefix; Phi-3's positions start after the
 * prefix, beyond original_max_position_embeddings, so the long rope factors), and PEFT's greedy tokens with the
 * cache; the same for PEFT prompt tuning (3 virtual token embeddings) on OPT and Phi-3.
 */
class Phi3OptPrefixTest {
    static Path dir(String name) {
        String[] kindModel = name.contains("/") ? name.split("/") : new String[] {"prefix", name};
        return Fixtures.root().resolve("phi3-opt").resolve(kindModel[0]).resolve(kindModel[1]);
    }

    static PreTrainedModel base(String name) throws Exception {
        return AutoModelForCausalLM.fromPretrained(Fixtures.root().resolve("models").resolve(name));
    }

    @ParameterizedTest
    @ValueSource(strings = {"opt", "opt-proj", "phi3", "prompt/opt", "prompt/phi3"})
    void peftSavedPrefixGivesPeftsLogitsAndTokens(String name) throws Exception {
        String model = name.startsWith("prompt/") ? name.substring("prompt/".length()) : name;
        PeftModel pm = PeftModel.fromPretrained(base(model), dir(name).resolve("adapter"));
        try (SafeTensors ref = SafeTensors.open(dir(name).resolve("expected.safetensors"))) {
            float[] got = pm.logits(ref.get("input_ids"), ref.get("attention_mask")).toFloatArray();
            long[] mask = ref.get("attention_mask").toLongArray();
            float[] want = ref.get("loaded_logits").toFloatArray();
            float[] base = ref.get("base_logits").toFloatArray();
            int vocab = want.length / mask.length;
            double max = 0;
            double fromBase = 0;
            for (int pos = 0; pos < mask.length; pos++) {
                for (int v = 0; mask[pos] == 1 && v < vocab; v++) {
                    max = Math.max(max, Math.abs(got[pos * vocab + v] - want[pos * vocab + v]));
                    fromBase = Math.max(fromBase, Math.abs(got[pos * vocab + v] - base[pos * vocab + v]));
                }
            }
            assertThat(max).isLessThan(1e-4);
            assertThat(fromBase).as("the prefix matters").isGreaterThan(1e-2);
            // PEFT generated with eos_token_id=None: no stop token (-1 is never produced)
            GenerationConfig greedy = GenerationConfig.builder().maxNewTokens(6).padTokenId(0L).eosTokenId(-1L)
                    .build();
            long[][] out = pm.generate(PrefixCases.rows(ref.get("gen_input_ids")),
                    PrefixCases.rows(ref.get("gen_attention_mask")), greedy);
            assertThat(out).isDeepEqualTo(PrefixCases.rows(ref.get("generated")));
        }
    }
}
