package org.peft4j.qlora;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.peft.PeftModel;
import org.peft4j.tensor.Tensor;

/**
 * Merging LoRA into 4-bit layers against PEFT 0.21.2's {@code lora.bnb.Linear4bit} on bitsandbytes' portable path
 * ({@code interop/fixtures/layer/qlora}): {@code merge_and_unload} and {@code merge_adapter} dequantize, add the
 * delta and re-quantize (with PEFT's rounding warning once per adapter and layer), {@code unmerge_adapter} subtracts
 * and re-quantizes again, {@code unload} gives back the 4-bit layers untouched.
 */
class QloraMergeTest {
    static final double TOL = 2e-4;

    static PeftModel load() throws Exception {
        return PeftModel.fromPretrained(QloraFixture.base4bit(), QloraFixture.dir().resolve("adapter"));
    }

    @Test
    void unloadGivesBackTheFourBitLayersUnchanged() throws Exception {
        Map<String, Tensor> want = QloraFixture.expected();
        PeftModel pm = load();
        PreTrainedModel base = pm.unload();
        assertThat(base.getSubmodule("model.layers.1.mlp.down_proj")).isExactlyInstanceOf(Linear4bit.class);
        assertThat(base.namedParameters().keySet()).noneMatch(k -> k.contains("lora_"));
        Tensor mask = want.get("attention_mask");
        assertThat(QloraFixture.maxDiffOnTokens(base.logits(want.get("input_ids"), mask), want.get("base_logits"),
                mask)).isLessThan(TOL);
    }

    @Test
    void mergeAndUnloadRequantizesAsPeft() throws Exception {
        Map<String, Tensor> want = QloraFixture.expected();
        int warnings = QloraFixture.caseJson().get("merge_warning_count").getAsInt() / 2;
        PeftModel pm = load();
        PreTrainedModel merged;
        String log;
        PrintStream err = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            merged = pm.mergeAndUnload();
        } finally {
            System.setErr(err);
            log = buf.toString(StandardCharsets.UTF_8);
        }
        String msg = "Merge lora module to 4-bit linear may get different generations due to rounding errors.";
        assertThat(log.split(java.util.regex.Pattern.quote(msg), -1).length - 1).isEqualTo(warnings);
        Linear4bit q = (Linear4bit) merged.getSubmodule("model.layers.0.self_attn.q_proj");
        // the re-quantized weight: bitsandbytes' bytes (a code may flip where the merged value sits on a threshold
        // and the two sums differ in the last bit)
        byte[] got = QloraFixture.bytes(q.weight().data());
        byte[] exp = QloraFixture.bytes(want.get("merged.q_proj0.packed"));
        int differ = 0;
        for (int i = 0; i < exp.length; i++) {
            differ += got[i] != exp[i] ? 1 : 0;
        }
        assertThat(differ).isLessThanOrEqualTo(exp.length / 200);
        assertThat(q.quantState().isNested()).isTrue();
        Tensor mask = want.get("attention_mask");
        double d = QloraFixture.maxDiffOnTokens(merged.logits(want.get("input_ids"), mask), want.get("merged_logits"),
                mask);
        System.out.printf("merged logits max diff %.3e, %d of %d bytes differ%n", d, differ, exp.length);
        assertThat(d).isLessThan(TOL);
        // merging moved the logits (re-quantization): the test can tell a merge from no merge
        assertThat(QloraFixture.maxDiffOnTokens(want.get("merged_logits"), want.get("lora_logits"), mask))
                .isGreaterThan(100 * TOL);
    }

    @Test
    void mergeAdapterThenUnmergeAdapterAsPeft() throws Exception {
        Map<String, Tensor> want = QloraFixture.expected();
        PeftModel pm = load();
        Tensor ids = want.get("input_ids");
        Tensor mask = want.get("attention_mask");
        pm.mergeAdapter();
        assertThat(QloraFixture.maxDiffOnTokens(pm.logits(ids, mask), want.get("merged_adapter_logits"), mask))
                .isLessThan(TOL);
        pm.unmergeAdapter();
        double d = QloraFixture.maxDiffOnTokens(pm.logits(ids, mask), want.get("unmerged_logits"), mask);
        System.out.printf("unmerged logits max diff %.3e%n", d);
        assertThat(d).isLessThan(TOL);
    }
}
