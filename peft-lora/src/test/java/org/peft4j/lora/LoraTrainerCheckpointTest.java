package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.data.Batch;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;
import org.peft4j.train.Trainer;
import org.peft4j.train.TrainingArguments;

/**
 * A {@link Trainer} built on a {@link PeftModel} writes the adapters into every checkpoint as transformers' Trainer
 * does for a PEFT model ({@code checkpoint-N/adapter_model.safetensors}, {@code adapter_config.json}), loadable with
 * {@link PeftModel#fromPretrained}; resuming from such a checkpoint still works.
 */
class LoraTrainerCheckpointTest {
    static Batch batch() {
        long[] ids = {7, 21, 3, 88, 14, 60, 5, 31, 9, 42, 0, 0, 11, 19, 140, 201, 77, 45};
        long[] mask = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1};
        long[] labels = ids.clone();
        for (int i = 0; i < ids.length; i++) {
            if (mask[i] == 0) {
                labels[i] = -100;
            }
        }
        return new Batch(Tensor.of(ids, 2, 9), Tensor.of(mask, 2, 9), Tensor.of(labels, 2, 9));
    }

    static PeftModel fresh() throws Exception {
        PreTrainedModel base = AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
        return Peft.getPeftModel(base, LoraConfig.builder().r(4).loraAlpha(8).targetModules("q_proj", "v_proj")
                .modulesToSave("lm_head").build());
    }

    @Test
    void checkpointsHoldTheAdapterAsPeftSavesIt(@TempDir Path out) throws Exception {
        PeftModel pm = fresh();
        TrainingArguments args = TrainingArguments.builder(out).learningRate(1e-2).maxSteps(4).saveSteps(2)
                .lrSchedulerType("constant").build();
        List<Double> losses = new Trainer(pm, args, OrtRuntime.shared()).showProgress(false)
                .train(List.of(batch()));
        assertThat(losses).hasSize(4);
        Path ckpt = out.resolve("checkpoint-4");
        assertThat(ckpt.resolve("adapter_model.safetensors")).exists();
        assertThat(ckpt.resolve("adapter_config.json")).exists();
        assertThat(ckpt.resolve("README.md")).exists();
        assertThat(out.resolve("checkpoint-2").resolve("adapter_model.safetensors")).exists();
        try (SafeTensors st = SafeTensors.open(ckpt.resolve("adapter_model.safetensors"))) {
            assertThat(st.keys()).containsExactlyInAnyOrderElementsOf(pm.getPeftModelStateDict("default").keySet());
            for (var e : pm.getPeftModelStateDict("default").entrySet()) {
                assertThat(st.get(e.getKey()).toFloatArray()).as(e.getKey())
                        .containsExactly(e.getValue().toFloatArray());
            }
        }
        // the checkpoint's adapter reproduces the trained model
        Tensor ids = batch().inputIds();
        Tensor mask = batch().attentionMask();
        PeftModel loaded = PeftModel.fromPretrained(AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha")),
                ckpt);
        assertThat(PeftAdapterInteropTest.maxDiffOnTokens(loaded.logits(ids, mask), pm.logits(ids, mask), mask))
                .isLessThan(1e-6);

        // resuming from checkpoint-2 of a fresh model retraces steps 3 and 4
        PeftModel again = fresh();
        List<Double> resumed = new Trainer(again, TrainingArguments.builder(out.resolve("resume")).learningRate(1e-2)
                .maxSteps(4).saveSteps(2).lrSchedulerType("constant").build(), OrtRuntime.shared())
                .showProgress(false).train(List.of(batch()), out.resolve("checkpoint-2"));
        assertThat(resumed).containsExactlyElementsOf(losses.subList(2, 4));
    }
}
