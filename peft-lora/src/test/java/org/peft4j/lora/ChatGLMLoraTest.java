package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.data.Batch;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.tuners.BaseTuner;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;
import org.peft4j.train.TrainStep;

/**
 * LoRA on ChatGLM against PEFT 0.12.0 + modeling_chatglm ({@code interop/fixtures/chatglm/lora}, made by
 * interop/make_chatglm_fixtures.py): PEFT's default target for chatglm ({@code query_key_value}), a PEFT-saved
 * adapter's logits on a left-padded batch, and one training step's loss and LoRA gradients.
 */
class ChatGLMLoraTest {
    static final double TOL = 1e-4;

    static Path dir() {
        return Fixtures.root().resolve("chatglm");
    }

    static PreTrainedModel base() throws Exception {
        return AutoModelForCausalLM.fromPretrained(dir().resolve("model"));
    }

    static Map<String, Tensor> expected() throws Exception {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (SafeTensors st = SafeTensors.open(dir().resolve("lora/expected.safetensors"))) {
            for (String k : st.keys()) {
                out.put(k, st.get(k).copy());
            }
        }
        return out;
    }

    @Test
    void defaultTargetIsQueryKeyValueAndSavesPeftsKeys(@TempDir Path tmp) throws Exception {
        PeftModel pm = Peft.getPeftModel(base(), LoraConfig.builder().r(4).loraAlpha(8).initLoraWeights(false).build());
        pm.savePretrained(tmp);
        try (SafeTensors ours = SafeTensors.open(tmp.resolve("adapter_model.safetensors"));
                SafeTensors peft = SafeTensors.open(dir().resolve("lora/adapter/adapter_model.safetensors"))) {
            assertThat(new TreeSet<>(ours.keys())).isEqualTo(new TreeSet<>(peft.keys()));
            assertThat(peft.keys()).hasSize(4).allMatch(k -> k.contains(".self_attention.query_key_value.lora_"));
            for (String k : peft.keys()) {
                assertThat(ours.get(k).shape()).as(k).isEqualTo(peft.get(k).shape());
            }
        }
        assertThat(Fixtures.json(tmp.resolve("adapter_config.json")).getAsJsonArray("target_modules").toString())
                .isEqualTo("[\"query_key_value\"]");
    }

    @Test
    void peftSavedAdapterLogitsMatchOnValidTokens() throws Exception {
        Map<String, Tensor> want = expected();
        PeftModel pm = PeftModel.fromPretrained(base(), dir().resolve("lora/adapter"));
        Tensor mask = want.get("attention_mask");
        double diff = PeftAdapterInteropTest.maxDiffOnTokens(pm.logits(want.get("input_ids"), mask),
                want.get("logits"), mask);
        assertThat(diff).isLessThan(TOL);
    }

    @Test
    void oneTrainingStepGivesPeftsLossAndLoraGradients() throws Exception {
        Map<String, Tensor> want = expected();
        PeftModel pm = PeftModel.fromPretrained(base(), dir().resolve("lora/adapter"), "default", true);
        TrainStep step = new TrainStep(pm.getBaseModel(), OrtRuntime.shared());
        TreeSet<String> wantNames = new TreeSet<>();
        for (String k : want.keySet()) {
            if (k.startsWith("grad.")) {
                wantNames.add(k.substring("grad.".length() + BaseTuner.KEY_PREFIX.length()));
            }
        }
        assertThat(wantNames).hasSize(4);
        assertThat(new TreeSet<>(step.trainable().keySet())).isEqualTo(wantNames);
        TrainStep.Output out = step.run(new Batch(want.get("input_ids"), want.get("attention_mask"),
                want.get("labels")));
        double wantLoss = want.get("loss").toFloatArray()[0];
        assertThat(Math.abs(out.loss() - wantLoss) / wantLoss).isLessThan(TOL);
        for (String n : wantNames) {
            float[] g = out.gradients().get(n).toFloatArray();
            float[] w = want.get("grad." + BaseTuner.KEY_PREFIX + n).toFloatArray();
            assertThat(LoraTrainStepInteropTest.relErr(g, w)).as(n).isLessThan(TOL);
        }
    }
}
