package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.graph.Parameter;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.AutoPeftModelForCausalLM;
import org.peft4j.peft.PeftModel;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * {@code AutoPeftModelForCausalLM.fromPretrained(adapter, dtype)}: PEFT's {@code from_pretrained(adapter,
 * torch_dtype=...)} forwards the dtype to the base model's {@code from_pretrained}. Against PEFT 0.21.2 +
 * transformers 5.23 loading the PEFT-saved {@code lora/qv} adapter (llama-mha) with {@code torch_dtype=float16}
 * and {@code float32} on CPU ({@code interop/make_auto_peft_dtype_fixtures.py}, fixtures/auto-peft/qv.safetensors),
 * and against the two-step load (base in float16, then {@code PeftModel.fromPretrained}).
 */
class AutoPeftDtypeTest {
    /** As {@link PeftAdapterInteropTest}'s float32 adapters. */
    static final double F32_TOL = 1e-4;
    /** As HalfPrecisionParityTest: 16 float16 ulps at the logits' scale; torch's f16-f32 gap here is 0.022. */
    static final double F16_TOL = 0.125;

    /**
     * A copy of PEFT's lora/qv adapter whose base_model_name_or_path is the absolute llama-mha folder, with the
     * fixture tokenizer (llama-mha has none; AutoPeftModelForCausalLM takes the adapter folder's first).
     */
    static Path qvAdapter(Path dir) throws Exception {
        Path adapter = AutoPeftHubTest.adapterNaming(dir, Fixtures.root().resolve("lora/qv/adapter"),
                Fixtures.model("llama-mha").toAbsolutePath().toString());
        Files.copy(Fixtures.root().resolve("tokenizer/tokenizer.json"), adapter.resolve("tokenizer.json"));
        Files.copy(Fixtures.root().resolve("tokenizer/tokenizer_config.json"),
                adapter.resolve("tokenizer_config.json"));
        return adapter;
    }

    /** The base model's first weight of a module named {@code module} (not a LoRA weight). */
    static Parameter baseWeight(AutoPeftModelForCausalLM m, String module) {
        return m.model().namedParameters().entrySet().stream()
                .filter(e -> e.getKey().contains(module) && e.getKey().endsWith("weight")
                        && !e.getKey().contains("lora_"))
                .findFirst().orElseThrow(() -> new AssertionError("no " + module + " weight in "
                        + m.model().namedParameters().keySet())).getValue();
    }

    @Test
    void float16BaseGivesPeftsFloat16LogitsAndTheTwoStepLoadsLogits(@TempDir Path tmp) throws Exception {
        Path adapter = qvAdapter(tmp.resolve("qv"));
        try (SafeTensors ref = SafeTensors.open(Fixtures.root().resolve("auto-peft/qv.safetensors"));
                AutoPeftModelForCausalLM m = AutoPeftModelForCausalLM.fromPretrained(adapter, DType.F16)) {
            Tensor ids = ref.get("input_ids");
            Tensor mask = ref.get("attention_mask");
            // forwarded: the base's weights are float16 (PEFT keeps the adapter's in float32: autocast_adapter_dtype)
            assertThat(baseWeight(m, "q_proj").dtype()).isEqualTo(DType.F16);
            assertThat(baseWeight(m, "embed_tokens").dtype()).isEqualTo(DType.F16);
            Tensor logits = m.model().logits(ids, mask);
            double d16 = PeftAdapterInteropTest.maxDiffOnTokens(logits, ref.get("logits_f16"), mask);
            double d32 = PeftAdapterInteropTest.maxDiffOnTokens(logits, ref.get("logits_f32"), mask);
            assertThat(d16).as("vs PEFT torch_dtype=float16").isLessThan(F16_TOL);
            assertThat(d32).as("float16 rounding shows: not the float32 base").isGreaterThan(0);

            try (PeftModel twoStep = PeftModel.fromPretrained(
                    AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"), DType.F16), adapter)) {
                assertThat(logits.toFloatArray()).containsExactly(twoStep.logits(ids, mask).toFloatArray());
            }
        }
    }

    @Test
    void float32IsTheDefaultAndMatchesPeft(@TempDir Path tmp) throws Exception {
        Path adapter = qvAdapter(tmp.resolve("qv"));
        try (SafeTensors ref = SafeTensors.open(Fixtures.root().resolve("auto-peft/qv.safetensors"));
                AutoPeftModelForCausalLM m = AutoPeftModelForCausalLM.fromPretrained(adapter, DType.F32, null);
                AutoPeftModelForCausalLM plain = AutoPeftModelForCausalLM.fromPretrained(adapter)) {
            Tensor ids = ref.get("input_ids");
            Tensor mask = ref.get("attention_mask");
            Tensor logits = m.model().logits(ids, mask);
            assertThat(PeftAdapterInteropTest.maxDiffOnTokens(logits, ref.get("logits_f32"), mask))
                    .isLessThan(F32_TOL);
            assertThat(logits.toFloatArray()).containsExactly(plain.model().logits(ids, mask).toFloatArray());
        }
    }

    @Test
    void bfloat16IsForwardedToo(@TempDir Path tmp) throws Exception {
        Path adapter = qvAdapter(tmp.resolve("qv"));
        try (AutoPeftModelForCausalLM m = AutoPeftModelForCausalLM.fromPretrained(adapter.toString(), DType.BF16,
                null)) {
            assertThat(baseWeight(m, "q_proj").dtype()).isEqualTo(DType.BF16);
        }
        assertThatThrownBy(() -> AutoPeftModelForCausalLM.fromPretrained(adapter, null))
                .isInstanceOf(NullPointerException.class).hasMessageContaining("dtype");
        assertThat(Files.isRegularFile(adapter.resolve("adapter_config.json"))).isTrue();
    }
}
