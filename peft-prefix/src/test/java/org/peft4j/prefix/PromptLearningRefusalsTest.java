package org.peft4j.prefix;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.lora.LoraConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.config.TaskType;
import org.peft4j.peft.tuners.PromptLearningConfig;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * What PEFT 0.21.2 refuses and allows on a prompt-learning {@code PeftModel}, with PEFT's messages. The texts are
 * PEFT's, read from its source and checked by running it (peft_model.py):
 * <ul>
 * <li>{@code merge_and_unload} / {@code merge_adapter} / {@code unmerge_adapter} / {@code unload}: the PeftModel's
 * {@code base_model} is the transformers model (no tuner), so {@code PeftModel.__getattr__} falls through to it:
 * {@code AttributeError: 'LlamaForCausalLM' object has no attribute 'merge_and_unload'};</li>
 * <li>{@code add_adapter} of another method, either way ({@code PeftModel.add_adapter}): {@code raise
 * ValueError(f"Cannot combine adapters with different peft types. Found {self.peft_type} and
 * {peft_config.peft_type}.")}, i.e. "Found PeftType.PROMPT_TUNING and PeftType.LORA.";</li>
 * <li>{@code disable_adapter()} is allowed: it swaps in the base model's forward, so the logits are the base's;</li>
 * <li>several adapters of the same method are allowed, and {@code set_adapter} switches between them; an unknown
 * name: {@code ValueError(f"Adapter {adapter_name} not found.")}.</li>
 * </ul>
 * (PeftMixedModel refuses prompt learning too: "The provided `peft_type` 'PROMPT_TUNING' is not compatible with the
 * `PeftMixedModel`. ..."; peft4j has no mixed model, so there is nothing to test there.)
 */
class PromptLearningRefusalsTest {
    static PreTrainedModel llama() throws Exception {
        return AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-gqa"));
    }

    static LoraConfig lora() {
        return LoraConfig.builder().r(2).targetModules("q_proj", "v_proj").taskType(TaskType.CAUSAL_LM).build();
    }

    static PromptLearningConfig config(String method) {
        return switch (method) {
            case "PROMPT_TUNING" -> new PromptTuningConfig(4).taskType(TaskType.CAUSAL_LM);
            case "P_TUNING" -> new PromptEncoderConfig(4).taskType(TaskType.CAUSAL_LM).encoderHiddenSize(16);
            case "PREFIX_TUNING" -> new PrefixTuningConfig(3).taskType(TaskType.CAUSAL_LM);
            default -> throw new IllegalArgumentException(method);
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"PROMPT_TUNING", "P_TUNING", "PREFIX_TUNING"})
    void mergingAndUnloadingAreRefusedAsPeftRefusesThem(String method) throws Exception {
        PeftModel pm = Peft.getPeftModel(llama(), config(method));
        // AttributeError: 'LlamaForCausalLM' object has no attribute 'merge_and_unload' (and so on)
        assertThatThrownBy(pm::mergeAndUnload).isInstanceOf(UnsupportedOperationException.class)
                .hasMessage("'LlamaForCausalLM' object has no attribute 'merge_and_unload'");
        assertThatThrownBy(pm::mergeAdapter).hasMessage("'LlamaForCausalLM' object has no attribute 'merge_adapter'");
        assertThatThrownBy(pm::unmergeAdapter)
                .hasMessage("'LlamaForCausalLM' object has no attribute 'unmerge_adapter'");
        assertThatThrownBy(pm::unload).hasMessage("'LlamaForCausalLM' object has no attribute 'unload'");
        // the adapter is still there and active
        assertThat(pm.peftConfig()).containsOnlyKeys("default");
        PeftModel gpt2 = Peft.getPeftModel(AutoModelForCausalLM.fromPretrained(Fixtures.model("gpt2")),
                config(method));
        assertThatThrownBy(gpt2::mergeAndUnload)
                .hasMessage("'GPT2LMHeadModel' object has no attribute 'merge_and_unload'");
    }

    @ParameterizedTest
    @ValueSource(strings = {"PROMPT_TUNING", "P_TUNING", "PREFIX_TUNING"})
    void anotherMethodCannotBeAddedEitherWay(String method) throws Exception {
        PeftModel pm = Peft.getPeftModel(llama(), config(method));
        // ValueError: Cannot combine adapters with different peft types. Found PeftType.PROMPT_TUNING and PeftType.LORA.
        assertThatThrownBy(() -> pm.addAdapter("other", lora()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("Cannot combine adapters with different peft types. Found PeftType." + method
                        + " and PeftType.LORA.");
        String other = method.equals("PREFIX_TUNING") ? "PROMPT_TUNING" : "PREFIX_TUNING";
        assertThatThrownBy(() -> pm.addAdapter("other", config(other)))
                .hasMessage("Cannot combine adapters with different peft types. Found PeftType." + method
                        + " and PeftType." + other + ".");
        assertThat(pm.peftConfig()).containsOnlyKeys("default");
        PeftModel lora = Peft.getPeftModel(llama(), lora());
        assertThatThrownBy(() -> lora.addAdapter("pt", config(method)))
                .hasMessage("Cannot combine adapters with different peft types. Found PeftType.LORA and PeftType."
                        + method + ".");
    }

    /** The loaded PEFT adapters of the ptune / prefix fixtures, with PEFT's logits for their batch. */
    static String[] fixture(String method) {
        return switch (method) {
            case "PROMPT_TUNING" -> new String[] {"ptune", "pt-llama"};
            case "P_TUNING" -> new String[] {"ptune", "ptun-mlp-llama"};
            default -> new String[] {"prefix", "llama-gqa"};
        };
    }

    static Map<String, Tensor> reference(String[] f) throws Exception {
        return PtuneFixtures.read(Fixtures.root().resolve(f[0]).resolve(f[1]).resolve(f[0].equals("ptune")
                ? "reference.safetensors" : "expected.safetensors"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"PROMPT_TUNING", "P_TUNING", "PREFIX_TUNING"})
    void disableAdapterGivesTheBaseLogitsAndSetAdapterSwitchesAdapters(String method) throws Exception {
        String[] f = fixture(method);
        Map<String, Tensor> ref = reference(f);
        Tensor ids = ref.get("input_ids");
        Tensor mask = ref.get("attention_mask");
        PreTrainedModel base = llama();
        Tensor baseLogits = base.logits(ids, mask);
        PeftModel pm = PeftModel.fromPretrained(base, Fixtures.root().resolve(f[0]).resolve(f[1]).resolve("adapter"));
        Tensor peft = ref.get("loaded_logits");
        assertThat(PtuneFixtures.maskedMaxAbsDiff(pm.logits(ids, mask), peft, mask)).isLessThan(1e-4);
        // with model.disable_adapter(): the base model's forward
        try (var off = pm.disableAdapter()) {
            assertThat(PtuneFixtures.maskedMaxAbsDiff(pm.logits(ids, mask), baseLogits, mask)).isLessThan(1e-6);
        }
        assertThat(PtuneFixtures.maskedMaxAbsDiff(pm.logits(ids, mask), peft, mask)).as("enabled again")
                .isLessThan(1e-4);
        // a second adapter of the same method, then set_adapter back and forth
        pm.addAdapter("second", config(method));
        assertThat(pm.activeAdapters()).containsExactly("default");
        pm.setAdapter("second");
        assertThat(pm.activeAdapters()).containsExactly("second");
        Tensor second = pm.logits(ids, mask);
        assertThat(PtuneFixtures.maskedMaxAbsDiff(second, peft, mask)).as("the second adapter").isGreaterThan(1e-2);
        pm.setAdapter("default");
        assertThat(PtuneFixtures.maskedMaxAbsDiff(pm.logits(ids, mask), peft, mask)).isLessThan(1e-4);
        assertThatThrownBy(() -> pm.setAdapter("nope")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("Adapter nope not found.");
    }

    /**
     * Encoder-decoder prefixes ({@code num_transformer_submodules=2}, PEFT's default for SEQ_2_SEQ_LM): PEFT 0.21.2
     * builds them on a causal LM but its forward fails (prompt / P-tuning: "Expected input batch_size (10) to match
     * target batch_size (7)"; prefix: "'EncoderDecoderCache' object has no attribute ..."), checked in the venv.
     * peft4j has no encoder-decoder model and refuses them when the adapter is added, naming the field.
     */
    @ParameterizedTest
    @ValueSource(strings = {"PROMPT_TUNING", "P_TUNING", "PREFIX_TUNING"})
    void twoTransformerSubmodulesAreRefusedOnACausalLm(String method, @org.junit.jupiter.api.io.TempDir
            java.nio.file.Path tmp) throws Exception {
        // from a saved config that sets the field ...
        PeftModel pm = Peft.getPeftModel(llama(), config(method));
        pm.savePretrained(tmp);
        java.nio.file.Path cfg = tmp.resolve("adapter_config.json");
        com.google.gson.JsonObject j = Fixtures.json(cfg);
        assertThat(j.get("num_transformer_submodules").getAsInt()).isEqualTo(1);
        j.addProperty("num_transformer_submodules", 2);
        java.nio.file.Files.writeString(cfg, j.toString());
        assertThatThrownBy(() -> PeftModel.fromPretrained(llama(), tmp))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("num_transformer_submodules=2 (task_type=CAUSAL_LM) is for encoder-decoder "
                        + "models")
                .hasMessageContaining("LlamaForCausalLM is a causal LM");
        // ... and from SEQ_2_SEQ_LM, whose default it is
        PromptLearningConfig seq2seq = switch (method) {
            case "PROMPT_TUNING" -> new PromptTuningConfig(4).taskType(TaskType.SEQ_2_SEQ_LM);
            case "P_TUNING" -> new PromptEncoderConfig(4).taskType(TaskType.SEQ_2_SEQ_LM).encoderHiddenSize(16);
            default -> new PrefixTuningConfig(3).taskType(TaskType.SEQ_2_SEQ_LM);
        };
        assertThatThrownBy(() -> Peft.getPeftModel(llama(), seq2seq)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("num_transformer_submodules=2 (task_type=SEQ_2_SEQ_LM)");
        // and one submodule on the same model is fine
        assertThat(Peft.getPeftModel(llama(), config(method)).activeAdapters()).containsExactly("default");
    }
}
