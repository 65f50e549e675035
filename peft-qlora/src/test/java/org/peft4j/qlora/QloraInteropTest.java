package org.peft4j.qlora;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.peft4j.data.Batch;
import org.peft4j.graph.Parameter;
import org.peft4j.lora.LoraConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.config.TaskType;
import org.peft4j.peft.tuners.BaseTuner;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.train.TrainStep;

/**
 * QLoRA against transformers 5.23 + PEFT 0.21.2 + bitsandbytes 0.50.2 on the CPU (portable path;
 * {@code interop/fixtures/layer/qlora}): the 4-bit tiny Llama's logits; PEFT's adapter, saved on the 4-bit base,
 * loaded onto it through {@code lora.bnb.Linear4bit} layers; PEFT's parameter counts for a 4-bit model; and one
 * training step's loss and LoRA gradients after {@code prepare_model_for_kbit_training}.
 */
class QloraInteropTest {
    static final double LOGIT_TOL = 2e-4;
    static final List<String> TARGETS = List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
            "down_proj");

    @Test
    void baseLogitsMatchBitsandbytes() throws Exception {
        Map<String, Tensor> want = QloraFixture.expected();
        PreTrainedModel m = QloraFixture.base4bit();
        Tensor mask = want.get("attention_mask");
        double d = QloraFixture.maxDiffOnTokens(m.logits(want.get("input_ids"), mask), want.get("base_logits"), mask);
        System.out.printf("4-bit base logits max diff %.3e%n", d);
        assertThat(d).isLessThan(LOGIT_TOL);
    }

    @Test
    void peftAdapterOnTheFourBitBaseReproducesPeftLogits() throws Exception {
        Map<String, Tensor> want = QloraFixture.expected();
        JsonObject c = QloraFixture.caseJson();
        PeftModel pm = PeftModel.fromPretrained(QloraFixture.base4bit(), QloraFixture.dir().resolve("adapter"));
        var q = pm.getBaseModel().getSubmodule("model.layers.0.self_attn.q_proj");
        assertThat(q).isInstanceOf(LoraLinear4bit.class);
        assertThat(q.typeName()).isEqualTo("Linear4bit");
        assertThat(c.get("lora_type").getAsString()).isEqualTo("peft.tuners.lora.bnb.Linear4bit");
        assertThat(c.get("lora_repr").getAsString()).startsWith("lora." + q.typeName() + "(\n  (base_layer): "
                + ((LoraLinear4bit) q).baseLayer() + "\n");
        Tensor ids = want.get("input_ids");
        Tensor mask = want.get("attention_mask");
        double d = QloraFixture.maxDiffOnTokens(pm.logits(ids, mask), want.get("lora_logits"), mask);
        System.out.printf("QLoRA logits max diff %.3e%n", d);
        assertThat(d).isLessThan(LOGIT_TOL);
        try (PeftModel.AdapterDisabled off = pm.disableAdapter()) {
            assertThat(QloraFixture.maxDiffOnTokens(pm.logits(ids, mask), want.get("base_logits"), mask))
                    .isLessThan(LOGIT_TOL);
        }
    }

    static LoraConfig config() {
        return LoraConfig.builder().r(4).loraAlpha(8).targetModules(TARGETS).loraDropout(0.0)
                .initLoraWeights(false).taskType(TaskType.CAUSAL_LM).build();
    }

    @Test
    void parameterCountsAsPeftPrintsThemForFourBitModels() throws Exception {
        JsonObject c = QloraFixture.caseJson();
        PreTrainedModel base = QloraFixture.base4bit();
        // torch's numel: packed weights count their bytes (transformers' num_parameters counts them x 2)
        assertThat(base.numParameters()).isEqualTo(c.getAsJsonArray("base_counts").get(1).getAsLong());
        PeftModel pm = Peft.getPeftModel(KbitTraining.prepareModelForKbitTraining(base, false), config());
        long[] n = pm.getNbTrainableParameters();
        assertThat(n).containsExactly(c.get("trainable").getAsLong(), c.get("all").getAsLong());
        assertThat(pm.printTrainableParameters()).isEqualTo(c.get("print_trainable_parameters").getAsString());
    }

    @Test
    void prepareModelForKbitTrainingFreezesEverythingAndCastsHalfParametersToFloat32() throws Exception {
        JsonObject c = QloraFixture.caseJson();
        PreTrainedModel base = QloraFixture.base4bit();
        // make the float parameters half and trainable, as a model loaded in float16 would be
        Parameter norm = base.getParameter("model.norm.weight");
        Parameter half = new Parameter(norm.data().to(DType.F16));
        base.replaceParameter(norm, half);
        base.requiresGrad(true);
        assertThat(base.getParameter("model.layers.0.self_attn.q_proj.weight").trainable()).isFalse();
        assertThat(base.getParameter("model.norm.weight").dtype()).isEqualTo(DType.F16);
        KbitTraining.prepareModelForKbitTraining(base, true);
        assertThat(base.numTrainableParameters()).isZero();
        assertThat(base.isGradientCheckpointing()).isTrue();
        Parameter cast = base.getParameter("model.norm.weight");
        assertThat(cast.dtype()).isEqualTo(DType.F32);
        assertThat(cast.data().toFloatArray()).containsExactly(half.data().to(DType.F32).toFloatArray());
        TreeSet<String> f32 = new TreeSet<>();
        base.namedParameters().forEach((k, p) -> {
            if (p.dtype() == DType.F32) {
                f32.add(BaseTuner.KEY_PREFIX + k);
            }
        });
        TreeSet<String> want = new TreeSet<>();
        c.getAsJsonArray("float32_params_after_prepare").forEach(e -> want.add(e.getAsString()));
        assertThat(f32).isEqualTo(want);
        // not loaded in k-bit: gradient checkpointing is not switched on (PEFT enables it only for k-bit models)
        PreTrainedModel plain = org.peft4j.models.auto.AutoModelForCausalLM.fromConfig(base.config());
        KbitTraining.prepareModelForKbitTraining(plain, true);
        assertThat(plain.isGradientCheckpointing()).isFalse();
    }

    @Test
    void oneQloraTrainingStepMatchesPeftLossAndLoraGradients() throws Exception {
        Map<String, Tensor> want = QloraFixture.expected();
        PreTrainedModel base = KbitTraining.prepareModelForKbitTraining(QloraFixture.base4bit(), false);
        PeftModel pm = PeftModel.fromPretrained(base, QloraFixture.dir().resolve("adapter"), "default", true);
        try (TrainStep step = new TrainStep(pm.getBaseModel(), OrtRuntime.shared())) {
            TreeSet<String> wantNames = new TreeSet<>();
            for (String k : want.keySet()) {
                if (k.startsWith("grad.")) {
                    wantNames.add(k.substring("grad.".length() + BaseTuner.KEY_PREFIX.length()));
                }
            }
            assertThat(wantNames).hasSize(28);
            assertThat(new TreeSet<>(step.trainable().keySet())).isEqualTo(wantNames);
            TrainStep.Output out = step.run(new Batch(want.get("input_ids"), want.get("attention_mask"),
                    want.get("labels")));
            double wantLoss = want.get("loss").toFloatArray()[0];
            System.out.printf("QLoRA step loss %.8f vs PEFT %.8f%n", out.loss(), wantLoss);
            assertThat(Math.abs(out.loss() - wantLoss) / wantLoss).isLessThan(1e-5);
            for (String n : wantNames) {
                double err = Linear4bitTest.relErr(out.gradients().get(n).toFloatArray(),
                        want.get("grad." + BaseTuner.KEY_PREFIX + n).toFloatArray());
                assertThat(err).as(n).isLessThan(1e-4);
            }
        }
    }
}
