package org.peft4j.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.data.Batch;
import org.peft4j.data.PaddingCollator;
import org.peft4j.data.TokenizedExample;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.testutil.Fixtures;

/** The trainer batches tokenised examples itself: per-device batch sizes, per-epoch shuffling, mid-epoch resume. */
class TrainerBatchingTest {
    static final PaddingCollator COLLATOR = new PaddingCollator(0, PaddingCollator.Side.RIGHT);

    static PreTrainedModel model() throws Exception {
        return AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
    }

    static TrainingArguments.Builder args(Path out) {
        return TrainingArguments.builder(out).learningRate(5e-3).warmupSteps(1).perDeviceTrainBatchSize(4)
                .loggingSteps(100).saveSteps(100);
    }

    @Test
    void trainsOnTheLoadersBatchesEpochAfterEpoch(@TempDir Path out) throws Exception {
        List<TokenizedExample> ex = DataLoaderTest.examples(10);
        TrainingArguments a = args(out).numTrainEpochs(2).build();
        // 10 examples in batches of 4: 3 batches per epoch, 2 epochs
        List<Double> losses = new Trainer(model(), a, OrtRuntime.shared()).showProgress(false)
                .train(ex, List.of(), COLLATOR, null);
        assertThat(losses).hasSize(6);
        // the same steps on batches formed by hand from the loader's orders of epochs 0 and 1
        DataLoader loader = DataLoader.forTraining(ex, COLLATOR, a);
        List<Batch> byHand = new ArrayList<>(loader.epoch(0));
        byHand.addAll(loader.epoch(1));
        assertThat(byHand).extracting(b -> b.inputIds().dim(0)).containsExactly(4L, 4L, 2L, 4L, 4L, 2L);
        List<Double> reference = new Trainer(model(), args(out.resolve("ref")).maxSteps(6).build(),
                OrtRuntime.shared()).showProgress(false).train(byHand);
        assertThat(losses).isEqualTo(reference);
    }

    @Test
    void resumingMidEpochContinuesThatEpochsOrder(@TempDir Path out) throws Exception {
        List<TokenizedExample> ex = DataLoaderTest.examples(5);
        // batches of 2: 3 per epoch; the checkpoint of step 4 lies in epoch 1 after its first batch
        TrainingArguments a = args(out).perDeviceTrainBatchSize(2).maxSteps(7).build();
        List<Double> full = new Trainer(model(), a, OrtRuntime.shared()).showProgress(false)
                .train(ex, List.of(), COLLATOR, null);
        Path out2 = out.resolve("second");
        TrainingArguments a2 = args(out2).perDeviceTrainBatchSize(2).maxSteps(7).saveSteps(4).build();
        List<Double> first = new Trainer(model(), a2, OrtRuntime.shared()).showProgress(false)
                .train(ex, List.of(), COLLATOR, null);
        assertThat(first).isEqualTo(full);
        List<Double> resumed = new Trainer(model(), a2, OrtRuntime.shared()).showProgress(false)
                .train(ex, List.of(), COLLATOR, out2.resolve("checkpoint-4"));
        assertThat(resumed).isEqualTo(full.subList(4, 7));
        // the order matters: another seed shuffles differently and trains differently (the model has no dropout)
        List<Double> otherSeed = new Trainer(model(), args(out.resolve("other")).perDeviceTrainBatchSize(2)
                .maxSteps(7).seed(43).build(), OrtRuntime.shared()).showProgress(false)
                .train(ex, List.of(), COLLATOR, null);
        assertThat(otherSeed).isNotEqualTo(full);
    }

    @Test
    void evaluatesInBatchesOfTheEvalBatchSizeWeightedByRows(@TempDir Path out) throws Exception {
        List<TokenizedExample> ex = DataLoaderTest.examples(6);
        List<TokenizedExample> eval = DataLoaderTest.examples(10).subList(6, 10);
        TrainingArguments a = args(out).maxSteps(2).evalSteps(2L).perDeviceEvalBatchSize(3).build();
        List<Double> evalLosses = new ArrayList<>();
        PreTrainedModel m = model();
        new Trainer(m, a, OrtRuntime.shared()).showProgress(false).addCallback(new TrainerCallback() {
            @Override
            public void onEvaluate(long step, double evalLoss) {
                evalLosses.add(evalLoss);
            }
        }).train(ex, eval, COLLATOR, null);
        assertThat(evalLosses).hasSize(1);
        // independently: eval examples 0-2 in one batch, 3 alone; the mean over examples weights them 3:1
        TrainStep step = new TrainStep(m, OrtRuntime.shared());
        double threeRows = step.evaluate(COLLATOR.collate(eval.subList(0, 3)));
        double oneRow = step.evaluate(COLLATOR.collate(eval.subList(3, 4)));
        assertThat(threeRows).isNotCloseTo(oneRow, within(1e-3));
        assertThat(evalLosses.get(0)).isCloseTo((3 * threeRows + oneRow) / 4, within(1e-6));
    }
}
