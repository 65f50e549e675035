package org.peft4j.models;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.peft4j.graph.Parameter;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.testutil.Fixtures;

/** {@link PreTrainedModel#initWeights}: transformers' initialisation scheme, reproducible per seed. */
class InitWeightsTest {

    static PreTrainedModel gpt2() throws Exception {
        return AutoModelForCausalLM.fromConfig(ModelConfig.load(Fixtures.model("gpt2").resolve("config.json")));
    }

    @Test
    void normsAreOnesBiasesZerosAndWeightsNormalWithTheConfiguredStd() throws Exception {
        PreTrainedModel m = gpt2();
        m.initWeights(3);
        double sum = 0;
        double sq = 0;
        long n = 0;
        int norms = 0;
        int biases = 0;
        for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
            float[] v = e.getValue().data().toFloatArray();
            String k = e.getKey();
            if (k.contains(".ln_") && k.endsWith("weight") || k.equals("transformer.ln_f.weight")) {
                assertThat(v).as(k).containsOnly(1f);
                norms++;
            } else if (k.endsWith("bias")) {
                assertThat(v).as(k).containsOnly(0f);
                biases++;
            } else {
                for (float x : v) {
                    sum += x;
                    sq += (double) x * x;
                    n++;
                }
            }
        }
        assertThat(norms).isEqualTo(5); // ln_1, ln_2 per layer and ln_f
        assertThat(biases).isGreaterThan(10);
        double mean = sum / n;
        double std = Math.sqrt(sq / n - mean * mean);
        // initializer_range 0.02 in the fixture's config.json; over n > 30,000 draws the sample std has a relative
        // standard error of 1 / sqrt(2n) < 0.41%, so 1.5% is over 3.6 standard errors
        assertThat(n).isGreaterThan(30_000);
        assertThat(std).isCloseTo(0.02, within(0.0003));
        assertThat(mean).isCloseTo(0.0, within(0.0005));
    }

    @Test
    void aSeedGivesTheSameModelAndDrawsInParameterOrder() throws Exception {
        PreTrainedModel a = gpt2();
        PreTrainedModel b = gpt2();
        PreTrainedModel c = gpt2();
        a.initWeights(11, 0.5);
        b.initWeights(11, 0.5);
        c.initWeights(12, 0.5);
        Map.Entry<String, Parameter> first = a.namedParameters().entrySet().iterator().next();
        assertThat(first.getKey()).isEqualTo("transformer.wte.weight");
        Random r = new Random(11);
        float[] v = first.getValue().data().toFloatArray();
        for (int i = 0; i < 5; i++) {
            assertThat(v[i]).isEqualTo((float) (r.nextGaussian() * 0.5));
        }
        for (String k : a.namedParameters().keySet()) {
            assertThat(a.namedParameters().get(k).data().contentEquals(b.namedParameters().get(k).data())).as(k)
                    .isTrue();
        }
        assertThat(a.namedParameters().get("transformer.h.1.mlp.c_fc.weight").data()
                .contentEquals(c.namedParameters().get("transformer.h.1.mlp.c_fc.weight").data())).isFalse();
    }

    /** transformers' Gemma2PreTrainedModel._init_weights zeroes RMSNorm weights (the norm multiplies by 1 + w). */
    @Test
    void gemmaNormsStartAtZeroSoTheyScaleByOne() throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromConfig(ModelConfig.load(Fixtures.model("gemma2")
                .resolve("config.json")));
        m.initWeights(3);
        int norms = 0;
        for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
            if (e.getKey().contains("norm")) {
                assertThat(e.getValue().data().toFloatArray()).as(e.getKey()).containsOnly(0f);
                norms++;
            }
        }
        assertThat(norms).isGreaterThan(4); // four per layer and the final norm
    }
}
