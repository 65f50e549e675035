package org.peft4j.qlora;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.nn.Module;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * Checkpoints saved by transformers 5.23 + bitsandbytes 0.50.2 in 4 bits ({@code interop/fixtures/io/nf4-dq},
 * {@code fp4}) load with a plain {@code AutoModelForCausalLM.fromPretrained(dir)}, and reproduce the logits
 * transformers computed on them (bitsandbytes' pure-torch path).
 */
class Bnb4bitCheckpointTest {
    /**
     * Float32 compute: the dequantized weight is exact (a code times an absmax, both float32), so only the order of
     * float32 sums differs; the logits are of size ~3.
     */
    static final double TOL_F32 = 1e-4;

    @ParameterizedTest
    @ValueSource(strings = {"nf4-dq", "fp4"})
    void loadsTheBnbFolderAs4bitLayers(String name) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(IoFixtures.folder(name));
        assertThat(m.quantizationConfig()).isInstanceOf(BitsAndBytesConfig.class);
        BitsAndBytesConfig c = (BitsAndBytesConfig) m.quantizationConfig();
        assertThat(c.bnb4bitQuantType().bnbName()).isEqualTo(name.substring(0, 3));
        int n4 = 0;
        for (Map.Entry<String, Module> e : m.namedModules().entrySet()) {
            if (e.getValue() instanceof Linear4bit) {
                Linear4bit l = (Linear4bit) e.getValue();
                assertThat(l.hasWeightData()).isTrue();
                assertThat(l.quantState().isNested()).isEqualTo(name.equals("nf4-dq"));
                assertThat(l.computeDtype()).isEqualTo(name.equals("nf4-dq") ? DType.BF16 : DType.F32);
                n4++;
            }
        }
        assertThat(n4).isEqualTo(14);
        assertThat(m.getSubmodule("lm_head")).isNotInstanceOf(Linear4bit.class);
        assertThat(m.getParameter("lm_head.weight").dtype()).isEqualTo(DType.F32);
        assertThat(m.getParameter("model.norm.weight").dtype()).isEqualTo(DType.F32);
    }

    @ParameterizedTest
    @ValueSource(strings = {"nf4-dq", "fp4"})
    void logitsWithFloat32ComputeMatchTransformers(String name) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(IoFixtures.folder(name));
        if (name.equals("nf4-dq")) {
            m = withComputeDtype(m, DType.F32);
        }
        try (SafeTensors ref = SafeTensors.open(IoFixtures.reference())) {
            Tensor ids = ref.get("input_ids");
            float[] got = m.logits(ids, ones(ids)).toFloatArray();
            double d = IoFixtures.maxAbsDiff(got, ref.get(name + ".logits_f32").toFloatArray());
            assertThat(d).as(name + " logits (float32 compute) vs transformers").isLessThan(TOL_F32);
            double dFloat = IoFixtures.maxAbsDiff(got, ref.get("float.logits").toFloatArray());
            assertThat(dFloat).as("the 4-bit model differs from its float original").isGreaterThan(0.1);
        }
    }

    /**
     * bfloat16 compute (nf4-dq's {@code bnb_4bit_compute_dtype}), as transformers computed the committed logits: x and
     * the dequantized weight rounded to bfloat16, products summed in float32, each layer's output rounded to
     * bfloat16. Those roundings move the logits by 0.030 from the float32-compute ones; peft4j's emulation of them
     * lands within 5e-7 of torch's, so the float32 tolerance holds here too.
     */
    @org.junit.jupiter.api.Test
    void logitsWithBfloat16ComputeMatchTransformers() throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(IoFixtures.folder("nf4-dq"));
        try (SafeTensors ref = SafeTensors.open(IoFixtures.reference())) {
            Tensor ids = ref.get("input_ids");
            float[] got = m.logits(ids, ones(ids)).toFloatArray();
            double d = IoFixtures.maxAbsDiff(got, ref.get("nf4-dq.logits").toFloatArray());
            double gap = IoFixtures.maxAbsDiff(ref.get("nf4-dq.logits").toFloatArray(),
                    ref.get("nf4-dq.logits_f32").toFloatArray());
            assertThat(gap).isGreaterThan(0.02);
            assertThat(d).as("nf4-dq logits (bfloat16 compute) vs transformers").isLessThan(TOL_F32);
        }
    }

    /** Greedy decoding with the key/value cache on the 4-bit model equals transformers' {@code generate}. */
    @ParameterizedTest
    @ValueSource(strings = {"nf4-dq", "fp4"})
    void greedyGenerationWithKvCacheMatchesTransformers(String name) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(IoFixtures.folder(name));
        try (SafeTensors ref = SafeTensors.open(IoFixtures.reference())) {
            long[] want = ref.get(name + ".generate").toLongArray();
            long[] prompt = Arrays.copyOf(ref.get("input_ids").toLongArray(), 5);
            long[] got = new org.peft4j.generation.Generator(m).generate(prompt,
                    org.peft4j.generation.GenerationConfig.greedy(want.length - prompt.length));
            assertThat(got).containsExactly(want);
        }
    }

    /** The same model with every Linear4bit computing in {@code cd} (as setting bnb's compute_dtype). */
    static PreTrainedModel withComputeDtype(PreTrainedModel m, DType cd) {
        for (Map.Entry<String, Module> e : new LinkedHashMap<>(m.namedModules()).entrySet()) {
            if (e.getValue() instanceof Linear4bit) {
                Linear4bit l = (Linear4bit) e.getValue();
                Linear4bit c = new Linear4bit(l.inFeatures(), l.outFeatures(), l.bias() != null, l.quantType(),
                        l.blocksize(), l.compressStatistics(), cd, l.dtype());
                c.setQuantized(l.weight().data(), l.quantState());
                m.setSubmodule(e.getKey(), c);
            }
        }
        return m;
    }

    static Tensor ones(Tensor ids) {
        long[] v = new long[(int) ids.numel()];
        Arrays.fill(v, 1);
        return Tensor.of(v, ids.shape());
    }
}
