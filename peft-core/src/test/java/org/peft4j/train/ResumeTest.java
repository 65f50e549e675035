package org.peft4j.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.data.Batch;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.runtime.RuntimeOptions;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/** Resuming from a checkpoint continues the uninterrupted run's loss trajectory bit for bit. */
class ResumeTest {

    static List<Batch> batches() {
        long[][] seqs = {{7, 21, 3, 88, 14, 60}, {5, 31, 9, 42, 11, 2}, {1, 2, 3, 4, 5, 6}};
        List<Batch> out = new java.util.ArrayList<>();
        for (long[] s : seqs) {
            long[] mask = {1, 1, 1, 1, 1, 1};
            long[] labels = s.clone();
            labels[0] = Batch.IGNORE_INDEX;
            labels[1] = Batch.IGNORE_INDEX;
            out.add(new Batch(Tensor.of(s, 1, 6), Tensor.of(mask, 1, 6), Tensor.of(labels, 1, 6)));
        }
        return out;
    }

    @Test
    void resumedLossesEqualTheUninterruptedRun(@TempDir Path out) throws Exception {
        assertResumeRetraces("llama-mha", out);
    }

    /** GPT-2's config has resid/embd/attn dropout 0.1: the masks are a function of (seed, step, micro-batch). */
    @Test
    void resumeWithDropoutRetracesTheUninterruptedRun(@TempDir Path out) throws Exception {
        List<Double> full = assertResumeRetraces("gpt2", out);
        // dropout is really on: another seed draws other masks, so the very first loss differs
        TrainingArguments other = TrainingArguments.builder(out.resolve("other")).learningRate(5e-3).maxSteps(1)
                .gradientAccumulationSteps(2).seed(43).build();
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.builder().optIntraOpThreads(1).build())) {
            PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model("gpt2"));
            List<Double> first = new Trainer(m, other, rt).showProgress(false).train(batches());
            assertThat(first.get(0)).isNotEqualTo(full.get(0));
        }
    }

    @Test
    void theDropoutSeedAloneDecidesTheLoss() throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model("gpt2"));
        TrainStep step = new TrainStep(m, OrtRuntime.shared());
        assertThat(step.hasDropout()).isTrue();
        Batch b = batches().get(0);
        TrainStep.Output a = step.run(b, 5);
        TrainStep.Output again = step.run(b, 5);
        TrainStep.Output other = step.run(b, 6);
        assertThat(again.loss()).isEqualTo(a.loss());
        assertThat(again.gradients().get("transformer.wte.weight").toFloatArray())
                .containsExactly(a.gradients().get("transformer.wte.weight").toFloatArray());
        assertThat(other.loss()).isNotEqualTo(a.loss());
        // evaluation has no dropout: deterministic and equal to neither
        assertThat(step.evaluate(b)).isEqualTo(step.evaluate(b)).isNotIn(a.loss(), other.loss());
        // the Llama fixture has no dropout: no seed input
        assertThat(new TrainStep(AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha")),
                OrtRuntime.shared()).hasDropout()).isFalse();
        // seeds of different steps and micro-batches differ; equal arguments give equal seeds
        assertThat(TrainStep.dropoutSeed(42, 3, 1)).isEqualTo(TrainStep.dropoutSeed(42, 3, 1))
                .isNotIn(TrainStep.dropoutSeed(42, 3, 0), TrainStep.dropoutSeed(42, 4, 1),
                        TrainStep.dropoutSeed(43, 3, 1));
    }

    /** Trains 8 steps in one go, then 4 + resume from checkpoint-4; returns the uninterrupted losses. */
    static List<Double> assertResumeRetraces(String model, Path out) throws Exception {
        TrainingArguments args = TrainingArguments.builder(out).learningRate(5e-3).maxSteps(8).warmupSteps(2)
                .gradientAccumulationSteps(2).weightDecay(0.01).saveSteps(4).saveTotalLimit(1).loggingSteps(2)
                .build();
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.builder().optIntraOpThreads(1).build())) {
            PreTrainedModel a = AutoModelForCausalLM.fromPretrained(Fixtures.model(model));
            List<Double> full = new Trainer(a, args, rt).showProgress(false).train(batches());
            assertThat(full).hasSize(8);
            // rotation kept only the newest checkpoint
            try (Stream<Path> s = Files.list(out)) {
                assertThat(s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("checkpoint"))
                        .collect(Collectors.toList())).containsExactly("checkpoint-8");
            }
            // a second run writes checkpoint-4 mid-way; a fresh model resumes from it and must retrace steps 5-8
            Path out2 = out.resolve("second");
            TrainingArguments args2 = TrainingArguments.builder(out2).learningRate(5e-3).maxSteps(8).warmupSteps(2)
                    .gradientAccumulationSteps(2).weightDecay(0.01).saveSteps(4).loggingSteps(2).build();
            PreTrainedModel b = AutoModelForCausalLM.fromPretrained(Fixtures.model(model));
            List<Double> firstHalf = new Trainer(b, args2, rt).showProgress(false).train(batches()).subList(0, 4);
            assertThat(firstHalf).isEqualTo(full.subList(0, 4));
            PreTrainedModel c = AutoModelForCausalLM.fromPretrained(Fixtures.model(model));
            List<Double> resumed = new Trainer(c, args2, rt).showProgress(false).train(batches(),
                    out2.resolve("checkpoint-4"));
            assertThat(resumed).isEqualTo(full.subList(4, 8));
            assertThat(Files.readString(out2.resolve("checkpoint-4").resolve("trainer_state.json")))
                    .contains("\"global_step\": 4");
            return full;
        }
    }
}
