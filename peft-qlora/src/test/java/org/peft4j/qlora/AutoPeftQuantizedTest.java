package org.peft4j.qlora;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.nn.Module;
import org.peft4j.peft.AutoPeftModelForCausalLM;
import org.peft4j.peft.PeftModel;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * {@code AutoPeftModelForCausalLM.fromPretrained(adapter, dtype, BitsAndBytesConfig)}: PEFT's
 * {@code from_pretrained(adapter, quantization_config=BitsAndBytesConfig(load_in_4bit=True, ...))} quantizes the
 * base at load (through core's QuantizationConfig SPI: peft-core does not know peft-qlora), then loads the adapter.
 * Against PEFT 0.21.2 + transformers 5.23 + bitsandbytes 0.50.2 (portable path) loading the PEFT-saved
 * {@code lora/qv} adapter that way ({@code interop/make_auto_peft_dtype_fixtures.py}, logits_nf4), and against the
 * two-step load (4-bit base, then {@code PeftModel.fromPretrained}).
 */
class AutoPeftQuantizedTest {
    /** As QloraInteropTest's logits. */
    static final double TOL = 2e-4;

    @Test
    void nf4BaseGivesPeftsLogitsAndTheTwoStepLoadsLogits(@TempDir Path tmp) throws Exception {
        Path adapter = Files.createDirectories(tmp.resolve("qv"));
        Path src = Fixtures.root().resolve("lora/qv/adapter");
        Files.copy(src.resolve("adapter_model.safetensors"), adapter.resolve("adapter_model.safetensors"));
        Files.writeString(adapter.resolve("adapter_config.json"), Files.readString(src.resolve("adapter_config.json"))
                .replace("\"interop/fixtures/models/llama-mha\"",
                        "\"" + Fixtures.model("llama-mha").toAbsolutePath() + "\""));
        Files.copy(Fixtures.root().resolve("tokenizer/tokenizer.json"), adapter.resolve("tokenizer.json"));
        BitsAndBytesConfig nf4 = BitsAndBytesConfig.builder().loadIn4bit(true).bnb4bitQuantType("nf4")
                .bnb4bitComputeDtype(DType.F32).build();
        try (SafeTensors ref = SafeTensors.open(Fixtures.root().resolve("auto-peft/qv.safetensors"));
                AutoPeftModelForCausalLM m = AutoPeftModelForCausalLM.fromPretrained(adapter, DType.F32, nf4)) {
            assertThat(m.model().getBaseModel().quantizationConfig()).isEqualTo(nf4);
            long quantized = 0;
            for (Map.Entry<String, Module> e : m.model().getBaseModel().namedModules().entrySet()) {
                if (e.getValue() instanceof Linear4bit) {
                    quantized++;
                }
            }
            assertThat(quantized).as("every linear layer of 2 blocks (7 each) is 4-bit").isEqualTo(14);
            Tensor ids = ref.get("input_ids");
            Tensor mask = ref.get("attention_mask");
            float[] logits = m.model().logits(ids, mask).toFloatArray();
            assertThat(maxDiffOnTokens(logits, ref.get("logits_nf4"), mask)).as("vs PEFT + bitsandbytes nf4")
                    .isLessThan(TOL);
            assertThat(maxDiffOnTokens(logits, ref.get("logits_f32"), mask)).as("not the float base")
                    .isGreaterThan(0.1);
            try (PeftModel twoStep = PeftModel.fromPretrained(
                    AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"), DType.F32, nf4), adapter)) {
                assertThat(logits).containsExactly(twoStep.logits(ids, mask).toFloatArray());
            }
        }
    }

    private static double maxDiffOnTokens(float[] got, Tensor want, Tensor mask) {
        float[] w = want.toFloatArray();
        long[] m = mask.toLongArray();
        int vocab = (int) want.dim(2);
        double max = 0;
        for (int pos = 0; pos < m.length; pos++) {
            for (int v = 0; m[pos] != 0 && v < vocab; v++) {
                max = Math.max(max, Math.abs(got[pos * vocab + v] - w[pos * vocab + v]));
            }
        }
        return max;
    }
}
