package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.nn.Linear;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/** Merging half-precision weights (computed in float32, rounded once) and generation with an adapter. */
class LoraMergeDtypeTest {
    @Test
    void halfPrecisionWeightsMergeInFloat32AndRoundOnce() {
        for (DType dt : List.of(DType.F16, DType.BF16, DType.F32)) {
            Linear base = new Linear(24, 16, false, dt);
            base.weight().setData(LoraInit.normal(new Random(1), 0.5, 16, 24).to(dt));
            LoraLinear layer = new LoraLinear(base, false);
            layer.active = List.of("default");
            layer.updateLayer("default", 4, 8, 0.0, false, false, false, false, new Random(2));
            float[] w = base.weight().data().to(DType.F32).toFloatArray();
            float[] a = layer.loraA("default").weight().data().toFloatArray();
            float[] b = layer.loraB("default").weight().data().toFloatArray();
            double[] want = new double[w.length];
            for (int o = 0; o < 16; o++) {
                for (int i = 0; i < 24; i++) {
                    double d = 0;
                    for (int k = 0; k < 4; k++) {
                        d += b[o * 4 + k] * a[k * 24 + i];
                    }
                    want[o * 24 + i] = w[o * 24 + i] + 2.0 * d;
                }
            }
            layer.merge(true, null);
            Tensor merged = base.weight().data();
            assertThat(merged.dtype()).isEqualTo(dt);
            Tensor rounded = Tensor.of(want, 16, 24).to(dt);
            // float32 delta then one rounding to the storage dtype: equal to rounding the exact sum, up to one ulp
            float[] got = merged.to(DType.F32).toFloatArray();
            float[] exp = rounded.to(DType.F32).toFloatArray();
            double ulp = dt == DType.F16 ? Math.pow(2, -10) : dt == DType.BF16 ? Math.pow(2, -7) : Math.pow(2, -23);
            for (int k = 0; k < got.length; k++) {
                assertThat((double) Math.abs(got[k] - exp[k])).as(dt + " " + k)
                        .isLessThanOrEqualTo(ulp * Math.max(1, Math.abs(exp[k])));
            }
            layer.unmerge();
            float[] back = base.weight().data().to(DType.F32).toFloatArray();
            for (int k = 0; k < back.length; k++) {
                assertThat((double) Math.abs(back[k] - w[k])).isLessThanOrEqualTo(4 * ulp * Math.max(1,
                        Math.abs(w[k])));
            }
        }
    }

    @Test
    void generationWithTheAdapterEqualsGenerationWithTheMergedModel() throws Exception {
        PeftModel pm = Peft.getPeftModel(LoraModelTest.llama(), LoraModelTest.nonTrivial().build());
        long[][] prompt = {{1, 5, 9, 17, 33}};
        long[][] mask = {{1, 1, 1, 1, 1}};
        GenerationConfig cfg = GenerationConfig.builder().maxNewTokens(8).build();
        long[][] withAdapter = pm.generate(prompt, mask, cfg);
        long[][] base;
        try (PeftModel.AdapterDisabled d = pm.disableAdapter()) {
            base = pm.generate(prompt, mask, cfg);
        }
        long[][] merged = new org.peft4j.generation.Generator(pm.mergeAndUnload()).generate(prompt, mask, cfg);
        assertThat(merged).isDeepEqualTo(withAdapter);
        assertThat(java.util.Arrays.deepEquals(withAdapter, base)).isFalse();
    }
}
