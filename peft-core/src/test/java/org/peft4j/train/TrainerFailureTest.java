package org.peft4j.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.testutil.Fixtures;

/** Training that goes wrong or ends off the save grid: final checkpoints, killed runs, shared folders, divergence. */
class TrainerFailureTest {

    private static PreTrainedModel llama() throws Exception {
        return AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
    }

    private static List<String> checkpoints(Path out) throws Exception {
        try (Stream<Path> s = Files.list(out)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("checkpoint-")).sorted()
                    .collect(Collectors.toList());
        }
    }

    private static Trainer trainer(PreTrainedModel m, TrainingArguments args, List<Long> saves) {
        return new Trainer(m, args, OrtRuntime.shared()).showProgress(false).addCallback(new TrainerCallback() {
            @Override
            public void onSave(long step, Path checkpoint) {
                saves.add(step);
            }
        });
    }

    /**
     * transformers' DefaultFlowCallback sets should_save at global_step % save_steps == 0 and, with save strategy
     * "steps", again when global_step >= max_steps: max_steps 5, save_steps 2 saves at 2, 4 and 5.
     */
    @Test
    void theLastStepIsSavedWhenMaxStepsIsOffTheSaveGrid(@TempDir Path out) throws Exception {
        PreTrainedModel m = llama();
        List<Long> saves = new ArrayList<>();
        TrainingArguments args = TrainingArguments.builder(out).learningRate(1e-2).maxSteps(5).saveSteps(2).build();
        trainer(m, args, saves).train(ResumeTest.batches());
        assertThat(saves).containsExactly(2L, 4L, 5L);
        assertThat(checkpoints(out)).containsExactly("checkpoint-2", "checkpoint-4", "checkpoint-5");
        assertThat(Files.readString(out.resolve("checkpoint-5").resolve("trainer_state.json")))
                .contains("\"global_step\": 5");
        // the final checkpoint holds the trained weights, not those of step 4
        String name = "model.layers.0.self_attn.q_proj.weight";
        try (SafeTensors st = SafeTensors.open(out.resolve("checkpoint-5").resolve("model.safetensors"));
                SafeTensors st4 = SafeTensors.open(out.resolve("checkpoint-4").resolve("model.safetensors"))) {
            float[] trained = m.getParameter(name).data().toFloatArray();
            assertThat(st.get(name).toFloatArray()).containsExactly(trained);
            assertThat(st4.get(name).toFloatArray()).isNotEqualTo(trained);
        }
    }

    /** On the grid the last step is saved once, not twice. */
    @Test
    void aLastStepOnTheSaveGridIsSavedOnce(@TempDir Path out) throws Exception {
        List<Long> saves = new ArrayList<>();
        TrainingArguments args = TrainingArguments.builder(out).learningRate(1e-2).maxSteps(4).saveSteps(2).build();
        trainer(llama(), args, saves).train(ResumeTest.batches());
        assertThat(saves).containsExactly(2L, 4L);
    }

    private static TrainingArguments.Builder sixSteps(Path out) {
        return TrainingArguments.builder(out).learningRate(1e-2).maxSteps(6).saveSteps(2).loggingSteps(1)
                .evalSteps(2L);
    }

    /** Thrown by a callback to stand for the process being killed. */
    private static final class Killed extends RuntimeException {
        Killed() {
            super("killed");
        }
    }

    /**
     * A run killed after logging step 5, mid-way through appending step 6's line, and resumed from checkpoint-4:
     * the log must end up as the uninterrupted run's, line for line (no step logged twice, no broken line).
     */
    @Test
    void resumeCutsTheLogBackToTheCheckpoint(@TempDir Path out) throws Exception {
        Path whole = out.resolve("whole");
        Trainer a = new Trainer(llama(), sixSteps(whole).build(), OrtRuntime.shared()).showProgress(false);
        a.train(ResumeTest.batches(), ResumeTest.batches().subList(0, 1), null);
        List<String> reference = Files.readAllLines(a.logFile());
        assertThat(reference).hasSize(6 + 3);

        Path killed = out.resolve("killed");
        TrainingArguments args = sixSteps(killed).build();
        Trainer b = new Trainer(llama(), args, OrtRuntime.shared()).showProgress(false)
                .addCallback(new TrainerCallback() {
                    @Override
                    public void onLog(java.util.Map<String, Object> entry) {
                        if (((Number) entry.get("step")).longValue() == 5) {
                            throw new Killed();
                        }
                    }
                });
        assertThatThrownBy(() -> b.train(ResumeTest.batches(), ResumeTest.batches().subList(0, 1), null))
                .isInstanceOf(Killed.class);
        String step6 = reference.get(reference.size() - 2);
        assertThat(step6).startsWith("{\"step\":6,\"loss\"");
        Files.writeString(b.logFile(), step6.substring(0, 20), java.nio.file.StandardOpenOption.APPEND);
        // before the repair: steps 1..5 plus the broken line
        assertThat(Files.readAllLines(b.logFile())).hasSize(5 + 2 + 1);

        Trainer c = new Trainer(llama(), args, OrtRuntime.shared()).showProgress(false);
        c.train(ResumeTest.batches(), ResumeTest.batches().subList(0, 1), killed.resolve("checkpoint-4"));
        assertThat(Files.readAllLines(c.logFile())).containsExactlyElementsOf(reference);
    }

    @Test
    void truncateKeepsCompleteLinesUpToTheStep(@TempDir Path out) throws Exception {
        Path log = out.resolve("trainer_log.jsonl");
        Files.writeString(log, "{\"step\":2,\"loss\":1.5}\n{\"step\":2,\"eval_loss\":1.4}\n"
                + "{\"step\":3,\"loss\":1.2}\n{\"step\":4,\"lo");
        assertThat(TrainerLog.truncate(log, 3)).isEqualTo(1);
        assertThat(Files.readString(log)).isEqualTo("{\"step\":2,\"loss\":1.5}\n{\"step\":2,\"eval_loss\":1.4}\n"
                + "{\"step\":3,\"loss\":1.2}\n");
        assertThat(TrainerLog.truncate(log, 2)).isEqualTo(1);
        assertThat(Files.readAllLines(log)).hasSize(2);
        assertThat(TrainerLog.truncate(out.resolve("missing.jsonl"), 2)).isZero();
        assertThat(out.resolve("missing.jsonl")).doesNotExist();
    }

    /** A second trainer on the folder of a running one fails naming the folder; once the first ends it may run. */
    @Test
    void twoRunsCannotShareAnOutputFolder(@TempDir Path out) throws Exception {
        TrainingArguments args = TrainingArguments.builder(out).learningRate(1e-2).maxSteps(2).saveSteps(100).build();
        Trainer second = new Trainer(llama(), args, OrtRuntime.shared()).showProgress(false);
        List<Throwable> refused = new ArrayList<>();
        Trainer first = new Trainer(llama(), args, OrtRuntime.shared()).showProgress(false)
                .addCallback(new TrainerCallback() {
                    @Override
                    public void onStepEnd(long step, long maxSteps, double loss, double lr) {
                        try {
                            second.train(ResumeTest.batches());
                        } catch (RuntimeException e) {
                            refused.add(e);
                        }
                    }
                });
        assertThat(first.train(ResumeTest.batches())).hasSize(2);
        assertThat(refused).hasSize(2).allSatisfy(e -> assertThat(e).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("output_dir " + out + " is in use by another training run"));
        // the first run kept its lock after refusing the second (and wrote its checkpoint)
        assertThat(checkpoints(out)).containsExactly("checkpoint-2");
        // released at the end: the second may run now, and after a failed run the folder is free again
        assertThat(second.train(ResumeTest.batches())).hasSize(2);
        Trainer failing = new Trainer(llama(), args, OrtRuntime.shared()).showProgress(false)
                .addCallback(new TrainerCallback() {
                    @Override
                    public void onStepEnd(long step, long maxSteps, double loss, double lr) {
                        throw new Killed();
                    }
                });
        assertThatThrownBy(() -> failing.train(ResumeTest.batches())).isInstanceOf(Killed.class);
        assertThat(second.train(ResumeTest.batches())).hasSize(2);
    }

    /** A lock held through another channel (as another process would hold it) also refuses the run. */
    @Test
    void aLockHeldElsewhereRefusesTheRun(@TempDir Path out) throws Exception {
        TrainingArguments args = TrainingArguments.builder(out).learningRate(1e-2).maxSteps(1).build();
        Trainer t = new Trainer(llama(), args, OrtRuntime.shared()).showProgress(false);
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(out.resolve(".trainer.lock"),
                java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE);
                java.nio.channels.FileLock held = ch.lock()) {
            assertThatThrownBy(() -> t.train(ResumeTest.batches())).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining(out.toString());
        }
        assertThat(t.train(ResumeTest.batches())).hasSize(1);
    }

    /** The loss of {@code batch} under the trainable weights of a checkpoint, loaded into a fresh model. */
    private static double lossOf(Path checkpoint, org.peft4j.data.Batch batch) throws Exception {
        TrainStep step = new TrainStep(llama(), OrtRuntime.shared());
        Checkpoint c = Checkpoint.read(checkpoint);
        c.weights.forEach((k, w) -> step.trainable().get(k).setData(w));
        return step.evaluate(batch);
    }

    /**
     * Warm-up to lr 1e6 (constant_with_warmup over 6 steps) gives finite losses for 3 steps and NaN at step 4 (the
     * step-1 update is zero, then the rate grows). checkpoint-3 holds the weights that gave the NaN; with
     * save_total_limit 1 its save used to delete checkpoint-2, the last good one. It must survive and be named.
     */
    @Test
    void aNanKeepsAndNamesTheLastGoodCheckpoint(@TempDir Path out) throws Exception {
        TrainingArguments args = TrainingArguments.builder(out).learningRate(1e6)
                .lrSchedulerType("constant_with_warmup").warmupSteps(6).maxSteps(10).saveSteps(1).saveTotalLimit(1)
                .build();
        List<Long> saves = new ArrayList<>();
        assertThatThrownBy(() -> trainer(llama(), args, saves).train(ResumeTest.batches()))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("loss is NaN at step 4; training stopped; the newest checkpoint whose weights gave a "
                        + "finite loss is " + out.resolve("checkpoint-2") + " (" + out.resolve("checkpoint-3")
                        + " holds the weights that gave this loss)");
        assertThat(saves).containsExactly(1L, 2L, 3L);
        assertThat(checkpoints(out)).containsExactly("checkpoint-2", "checkpoint-3");
        // step 4 trained on batch 0 (cursor 3 of 3 batches): checkpoint-3's weights give NaN on it, checkpoint-2's not
        assertThat(lossOf(out.resolve("checkpoint-3"), ResumeTest.batches().get(0))).isNaN();
        assertThat(lossOf(out.resolve("checkpoint-2"), ResumeTest.batches().get(0))).isFinite();
    }

    /** transformers' rotate_checkpoints: oldest first, never the newest nor the protected one, limit <= 0 keeps all. */
    @Test
    void rotationSparesTheNewestAndTheProtectedCheckpoint(@TempDir Path out) throws Exception {
        for (int n : new int[] {2, 4, 6, 10}) {
            Files.createDirectories(out.resolve("checkpoint-" + n));
        }
        Checkpoint.rotate(out, 0);
        assertThat(checkpoints(out)).hasSize(4);
        Checkpoint.rotate(out, 2, out.resolve("checkpoint-2"));
        assertThat(checkpoints(out)).containsExactly("checkpoint-10", "checkpoint-2");
        Checkpoint.rotate(out, 1, out.resolve("checkpoint-2"));
        assertThat(checkpoints(out)).containsExactly("checkpoint-10", "checkpoint-2");
        Checkpoint.rotate(out, 1);
        assertThat(checkpoints(out)).containsExactly("checkpoint-10");
    }

    private static List<Double> lossesAtLr1(Path out, Double factor, List<Double> seen) throws Exception {
        TrainingArguments args = TrainingArguments.builder(out).learningRate(1.0).maxSteps(6).loggingSteps(1)
                .saveSteps(100).divergenceFactor(factor).divergenceWindow(3).build();
        return new Trainer(llama(), args, OrtRuntime.shared()).showProgress(false).addCallback(new TrainerCallback() {
            @Override
            public void onStepEnd(long step, long maxSteps, double loss, double lr) {
                seen.add(loss);
            }
        }).train(ResumeTest.batches());
    }

    /**
     * lr 1 diverges without a NaN on this fixture (7.82 -> 24.2; lr 1e6 collapses to the uniform ln 256): unnoticed
     * by default, stopped with a clear message when the guard is on, at the step the unguarded losses say.
     */
    @Test
    void theDivergenceGuardIsOptIn(@TempDir Path out) throws Exception {
        List<Double> free = lossesAtLr1(out.resolve("off"), null, new ArrayList<>());
        assertThat(free).hasSize(6).allSatisfy(l -> assertThat(l).isFinite());
        // find the first step whose loss exceeds 1.5x the lowest of the (up to) 3 losses before it
        int diverged = -1;
        for (int i = 1; i < free.size() && diverged < 0; i++) {
            double lowest = free.subList(Math.max(0, i - 3), i).stream().mapToDouble(d -> d).min().getAsDouble();
            if (free.get(i) > 1.5 * lowest) {
                diverged = i;
            }
        }
        assertThat(diverged).as("lr 1 must diverge within 6 steps: " + free).isPositive();
        List<Double> seen = new ArrayList<>();
        int step = diverged + 1;
        double lowest = free.subList(Math.max(0, diverged - 3), diverged).stream().mapToDouble(d -> d).min()
                .getAsDouble();
        assertThatThrownBy(() -> lossesAtLr1(out.resolve("on"), 1.5, seen))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage(String.format(java.util.Locale.ROOT, "loss %.4g at step %d is more than divergence_factor "
                        + "1.5 times the lowest of the last 3 logged losses (%.4g): training is diverging and was "
                        + "stopped; lower the learning_rate or resume from an earlier checkpoint", free.get(diverged),
                        step, lowest));
        assertThat(seen).containsExactlyElementsOf(free.subList(0, step));
        // a factor just above the largest ratio to the lowest of the 3 losses before lets the run finish
        double maxRatio = 0;
        for (int i = 1; i < free.size(); i++) {
            double low = free.subList(Math.max(0, i - 3), i).stream().mapToDouble(d -> d).min().getAsDouble();
            maxRatio = Math.max(maxRatio, free.get(i) / low);
        }
        assertThat(lossesAtLr1(out.resolve("loose"), maxRatio * 1.001, new ArrayList<>())).isEqualTo(free);
        double tight = maxRatio * 0.999;
        assertThatThrownBy(() -> lossesAtLr1(out.resolve("tight"), tight, new ArrayList<>()))
                .hasMessageContaining("training is diverging");
        assertThatThrownBy(() -> TrainingArguments.builder(out).divergenceFactor(1.0))
                .hasMessage("divergence_factor must be > 1 (or null: off), got 1.0");
    }
}
