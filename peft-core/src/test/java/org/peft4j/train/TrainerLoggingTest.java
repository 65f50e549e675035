package org.peft4j.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.data.Batch;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/** Evaluation loss against torch, the JSONL log, callbacks and the progress bar's text. */
class TrainerLoggingTest {

    static Batch torchBatch() throws Exception {
        try (SafeTensors ref = SafeTensors.open(Fixtures.root().resolve("reference").resolve(
                "llama-mha-grads.safetensors"))) {
            Tensor ids = ref.get("input_ids").copy();
            long[] mask = new long[(int) ids.numel()];
            java.util.Arrays.fill(mask, 1);
            return new Batch(ids, Tensor.of(mask, ids.shape()), ref.get("labels").copy());
        }
    }

    @Test
    void evaluationLossMatchesTorchBeforeTraining() throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
        double torchLoss;
        try (SafeTensors ref = SafeTensors.open(Fixtures.root().resolve("reference").resolve(
                "llama-mha-grads.safetensors"))) {
            torchLoss = ref.get("loss").getDouble(0);
        }
        assertThat(new TrainStep(m, OrtRuntime.shared()).evaluate(torchBatch())).isCloseTo(torchLoss, within(1e-5));
    }

    @Test
    void logsEvaluatesAndCallsBack(@TempDir Path out) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
        TrainingArguments args = TrainingArguments.builder(out).learningRate(1e-2).maxSteps(6).loggingSteps(2)
                .evalSteps(3L).saveSteps(6).build();
        List<String> events = new ArrayList<>();
        Trainer t = new Trainer(m, args, OrtRuntime.shared()).showProgress(false).addCallback(new TrainerCallback() {
            @Override
            public void onStepEnd(long step, long maxSteps, double loss, double lr) {
                events.add("step" + step);
            }

            @Override
            public void onEvaluate(long step, double evalLoss) {
                events.add("eval" + step);
            }

            @Override
            public void onSave(long step, Path checkpoint) {
                events.add("save" + step);
            }

            @Override
            public void onLog(Map<String, Object> entry) {
                events.add("log" + entry.get("step"));
            }
        });
        Batch b = torchBatch();
        List<Double> losses = t.train(List.of(b), List.of(b), null);
        assertThat(events).containsExactly("step1", "step2", "log2", "step3", "log3", "eval3", "step4", "log4",
                "step5", "step6", "log6", "log6", "eval6", "save6");
        List<String> lines = Files.readAllLines(t.logFile());
        assertThat(lines).hasSize(5);
        assertThat(lines.get(0)).startsWith("{\"step\":2,\"loss\":").contains("\"learning_rate\":");
        assertThat(lines.get(1)).startsWith("{\"step\":3,\"eval_loss\":");
        // as transformers: a logged loss is the mean over the steps since the previous log
        assertThat(loggedLoss(lines.get(0))).isCloseTo((losses.get(0) + losses.get(1)) / 2, within(1e-12));
        assertThat(loggedLoss(lines.get(2))).isCloseTo((losses.get(2) + losses.get(3)) / 2, within(1e-12));
        assertThat(loggedLoss(lines.get(3))).isCloseTo((losses.get(4) + losses.get(5)) / 2, within(1e-12));
        assertThat(losses.get(0)).isNotCloseTo(losses.get(1), within(1e-6));
        // the eval loss after training is below the first training loss
        double evalLoss = Double.parseDouble(lines.get(4).replaceAll(".*\"eval_loss\":([^}]*)}", "$1"));
        assertThat(evalLoss).isLessThan(losses.get(0));
        assertThat(Files.readString(out.resolve("checkpoint-6").resolve("trainer_state.json"))).contains("eval_loss");
    }

    private static double loggedLoss(String line) {
        return com.google.gson.JsonParser.parseString(line).getAsJsonObject().get("loss").getAsDouble();
    }

    @Test
    void progressLineShowsStepsLossRateSpeedAndEta() {
        assertThat(ProgressBar.line(25, 100, 1.23456, 2e-4, 50.0, 10_000, 25))
                .isEqualTo("[######..................] 25/100 loss 1.2346 lr 2.00e-04 200 tok/s eta 2:30");
    }
}
