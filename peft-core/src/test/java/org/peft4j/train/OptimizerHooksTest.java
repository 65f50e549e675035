package org.peft4j.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.data.Batch;
import org.peft4j.graph.Parameter;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/** The training step's loss specification and the optimizer's hooks: gradient reduction and the per-step callback. */
class OptimizerHooksTest {
    private static PreTrainedModel oneTrainableWeight() throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
        m.requiresGrad(false);
        m.getParameter("model.layers.1.self_attn.v_proj.weight").setTrainable(true);
        return m;
    }

    @Test
    void anExtraLossTermAddsItsAnalyticGradient() throws Exception {
        PreTrainedModel m = oneTrainableWeight();
        String name = "model.layers.1.self_attn.v_proj.weight";
        Parameter w = m.getParameter(name);
        double lambda = 0.25;
        // loss + lambda * sum(w^2): the gradient grows by 2 lambda w, the loss by lambda * ||w||^2
        LossSpec regularised = LossSpec.causalLM().plus((g, out) -> g.mulScalar(g.reduceSum(g.mul(g.param(w),
                g.param(w)), false, 0, 1), lambda));
        Batch batch = TrainerTest.batch();
        try (TrainStep plain = new TrainStep(m, OrtRuntime.shared());
                TrainStep reg = new TrainStep(m, OrtRuntime.shared(), regularised)) {
            TrainStep.Output a = plain.run(batch);
            TrainStep.Output b = reg.run(batch);
            float[] wv = w.data().toFloatArray();
            double sq = 0;
            for (float x : wv) {
                sq += (double) x * x;
            }
            assertThat(b.loss()).isCloseTo(a.loss() + lambda * sq, within(1e-4));
            float[] ga = a.gradients().get(name).toFloatArray();
            float[] gb = b.gradients().get(name).toFloatArray();
            for (int i = 0; i < wv.length; i++) {
                assertThat(gb[i]).isCloseTo((float) (ga[i] + 2 * lambda * wv[i]), within(1e-5f));
            }
        }
    }

    @Test
    void theReducerSeesTheAccumulatedGradientsOncePerStepAndItsResultIsWhatTheUpdateUses(@TempDir Path out)
            throws Exception {
        PreTrainedModel m = oneTrainableWeight();
        String name = "model.layers.1.self_attn.v_proj.weight";
        float[] before = m.getParameter(name).data().toFloatArray();
        List<Long> steps = new ArrayList<>();
        List<float[]> seen = new ArrayList<>();
        TrainingArguments args = TrainingArguments.builder(out).learningRate(1e-2).maxSteps(3)
                .gradientAccumulationSteps(2).weightDecay(0.0).build();
        // a reducer that replaces every gradient by zeros: AdamW then moves nothing (no decay), whatever the data
        GradientReducer zeroing = grads -> {
            seen.add(grads.get(name).clone());
            grads.values().forEach(g -> java.util.Arrays.fill(g, 0f));
        };
        TrainerCallback watch = new TrainerCallback() {
            @Override
            public void onOptimizerStep(long step, Map<String, Parameter> parameters, Map<String, float[]> grads) {
                steps.add(step);
                assertThat(parameters).containsOnlyKeys(name);
                assertThat(grads.get(name)).containsOnly(0f);
            }
        };
        new Trainer(m, args, OrtRuntime.shared()).showProgress(false).gradientReducer(zeroing).addCallback(watch)
                .train(List.of(TrainerTest.batch()));
        assertThat(steps).containsExactly(1L, 2L, 3L);
        assertThat(seen).hasSize(3).allSatisfy(g -> assertThat(g).isNotEqualTo(new float[g.length]));
        assertThat(m.getParameter(name).data().toFloatArray()).containsExactly(before);
        // and with the identity reducer (one machine) the same run moves the weight
        new Trainer(m, args, OrtRuntime.shared()).showProgress(false).train(List.of(TrainerTest.batch()));
        assertThat(m.getParameter(name).data().toFloatArray()).isNotEqualTo(before);
    }

    @Test
    void anOptimizerStepAppliesAdamWToTheParametersItWasGiven() {
        Parameter p = new Parameter(Tensor.of(new float[] {1f, -2f}, 2));
        TrainingArguments args = TrainingArguments.builder(Path.of("unused")).learningRate(0.1).weightDecay(0.0)
                .maxGradNorm(0).warmupSteps(0).lrSchedulerType("constant").build();
        OptimizerStep opt = new OptimizerStep(Map.of("p", p), java.util.Set.of(), args, 10);
        Map<String, float[]> grads = new java.util.HashMap<>();
        grads.put("p", new float[] {0.5f, -4f});
        double lr = opt.apply(0, grads);
        assertThat(lr).isEqualTo(0.1);
        // AdamW's first step moves each element by lr * sign(g) (m_hat / sqrt(v_hat) = g / |g|, eps aside)
        assertThat(p.data().toFloatArray()[0]).isCloseTo(0.9f, within(1e-6f));
        assertThat(p.data().toFloatArray()[1]).isCloseTo(-1.9f, within(1e-6f));
        assertThat(p.data().version()).isEqualTo(1);
        assertThat(opt.lastGradNorm()).isCloseTo(Math.sqrt(0.25 + 16), within(1e-6));
    }
}
