package org.peft4j.qlora;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.lora.LoraConfig;
import org.peft4j.peft.PeftModel;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * PEFT's per-call {@code adapter_names} on 4-bit layers ({@code lora.bnb.Linear4bit._mixed_batch_forward}): on the
 * 4-bit Qwen3 of {@link QloraFamiliesTest} with PEFT's adapter "a" and a second adapter "b", a batch whose rows name
 * "a", "b" and "__base__" gives, row by row, the logits of that adapter alone (whose single-adapter logits are PEFT's,
 * checked in QloraFamiliesTest) and of the disabled base.
 */
class QloraMixedBatchTest {
    @Test
    void eachRowGetsItsOwnAdapterOnFourBitLayers() throws Exception {
        PeftModel pm = PeftModel.fromPretrained(QloraFamiliesTest.saved4bit("qwen3"),
                QloraFamiliesTest.dir("qwen3").resolve("adapter"), "a", false);
        pm.addAdapter("b", LoraConfig.builder().r(2).loraAlpha(8).targetModules("q_proj", "down_proj")
                .initLoraWeights(false).build());
        Map<String, Tensor> want = LayerFixtures.read(QloraFamiliesTest.dir("qwen3").resolve("expected.safetensors"));
        long[] row = java.util.Arrays.copyOfRange(want.get("input_ids").toLongArray(), 0, 7);
        long[] three = new long[21];
        for (int i = 0; i < 3; i++) {
            System.arraycopy(row, 0, three, 7 * i, 7);
        }
        Tensor ids = Tensor.of(three, 3, 7);
        Tensor one = Tensor.of(row, 1, 7);
        float[] mixed = pm.logits(ids, null, List.of("a", "b", "__base__")).toFloatArray();
        int n = mixed.length / 3;
        pm.setAdapter("a");
        float[] a = pm.logits(one, null).toFloatArray();
        pm.setAdapter("b");
        float[] b = pm.logits(one, null).toFloatArray();
        float[] base;
        try (PeftModel.AdapterDisabled off = pm.disableAdapter()) {
            base = pm.logits(one, null).toFloatArray();
        }
        assertThat(Fixtures.maxAbsDiff(java.util.Arrays.copyOfRange(mixed, 0, n), a)).isLessThan(1e-5);
        assertThat(Fixtures.maxAbsDiff(java.util.Arrays.copyOfRange(mixed, n, 2 * n), b)).isLessThan(1e-5);
        assertThat(Fixtures.maxAbsDiff(java.util.Arrays.copyOfRange(mixed, 2 * n, 3 * n), base)).isLessThan(1e-5);
        // the three answers differ, so the rows cannot all have taken one path
        assertThat(Fixtures.maxAbsDiff(a, b)).isGreaterThan(1e-3);
        assertThat(Fixtures.maxAbsDiff(a, base)).isGreaterThan(1e-3);
    }
}
