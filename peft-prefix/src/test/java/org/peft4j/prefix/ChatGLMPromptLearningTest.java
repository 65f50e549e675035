package org.peft4j.prefix;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.peft4j.data.Batch;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.generation.Generator;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.config.TaskType;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;
import org.peft4j.train.TrainStep;

/**
 * Prefix tuning, prompt tuning and P-tuning on the tiny ChatGLM fixture through the CausalLM contract. PEFT has no
 * working reference here (its chatglm prefix is sized for 4 heads of 8, modeling_chatglm's multi-query cache holds
 * 2 groups of 16; its prompt tuning and P-tuning call the model with {@code inputs_embeds} and no {@code input_ids},
 * and modeling_chatglm's forward reads {@code input_ids.shape} regardless: AttributeError with PEFT 0.12.0 +
 * transformers 4.40.2, checked 2026-11-26), so these check peft4j's sizing, that training reaches every encoder parameter and no base one,
 * and that a prefix-tuned cached generation continues the uncached forward's argmax.
 */
class ChatGLMPromptLearningTest {
    private static final Tensor IDS = Tensor.of(new long[] {5, 9, 17, 2, 44, 6, 31, 8, 20, 21, 22, 23}, 2, 6);
    private static final Tensor MASK = Tensor.of(new long[] {1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1}, 2, 6);
    private static final Tensor LABELS = Tensor.of(new long[] {5, 9, 17, 2, 44, 6, -100, -100, 20, 21, 22, 23},
            2, 6);

    static PreTrainedModel base() throws Exception {
        return AutoModelForCausalLM.fromPretrained(Fixtures.root().resolve("chatglm").resolve("model"));
    }

    @Test
    void prefixIsSizedToTheMultiQueryCache() throws Exception {
        PrefixTuningConfig cfg = new PrefixTuningConfig(3).taskType(TaskType.CAUSAL_LM);
        PeftModel pm = Peft.getPeftModel(base(), cfg);
        PrefixTuningConfig used = (PrefixTuningConfig) pm.activePeftConfig();
        assertThat(used.numAttentionHeads()).isEqualTo(2);
        assertThat(used.tokenDim()).isEqualTo(32);
        assertThat(used.numLayers()).isEqualTo(2);
        // 3 virtual tokens x 2 layers x (key + value) x 2 groups x 16
        assertThat(pm.getNbTrainableParameters()[0]).isEqualTo(3L * 2 * 2 * 2 * 16);
    }

    @Test
    void everyMethodTrainsOnlyItsEncoderAndGenerates() throws Exception {
        for (org.peft4j.peft.tuners.PromptLearningConfig cfg : new org.peft4j.peft.tuners.PromptLearningConfig[] {
            new PrefixTuningConfig(3).taskType(TaskType.CAUSAL_LM),
            new PromptTuningConfig(4).taskType(TaskType.CAUSAL_LM),
            new PromptEncoderConfig(4).encoderHiddenSize(24).taskType(TaskType.CAUSAL_LM)}) {
            PeftModel pm = Peft.getPeftModel(base(), cfg);
            try (TrainStep step = new TrainStep(pm, OrtRuntime.shared())) {
                TrainStep.Output out = step.run(new Batch(IDS, MASK, LABELS));
                assertThat(Double.isFinite(out.loss())).as(cfg.toString()).isTrue();
                assertThat(new TreeSet<>(out.gradients().keySet())).as(cfg.toString()).isNotEmpty()
                        .allMatch(k -> k.startsWith("prompt_encoder."));
                for (Tensor g : out.gradients().values()) {
                    float max = 0;
                    for (float v : g.toFloatArray()) {
                        max = Math.max(max, Math.abs(v));
                    }
                    assertThat(max).as(cfg.toString()).isGreaterThan(0f);
                }
            }
            long[] prompt = {5, 9, 17, 2, 44};
            long[] gen = new Generator(pm).generate(prompt, GenerationConfig.builder().maxNewTokens(3)
                    .eosTokenId(612L).build());
            assertThat(gen).hasSize(8).startsWith(prompt);
            // the first generated token is the argmax of the uncached forward's last position
            float[] logits = pm.logits(Tensor.of(prompt, 1, 5), null).toFloatArray();
            int vocab = 512;
            int best = 0;
            for (int v = 1; v < vocab; v++) {
                if (logits[4 * vocab + v] > logits[4 * vocab + best]) {
                    best = v;
                }
            }
            assertThat(gen[5]).as(cfg.toString()).isEqualTo(best);
        }
    }
}
