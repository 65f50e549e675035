package org.peft4j.prefix;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.data.Batch;
import org.peft4j.graph.Value;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.config.TaskType;
import org.peft4j.peft.tuners.PromptLearningConfig;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.runtime.RuntimeOptions;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;
import org.peft4j.train.Trainer;
import org.peft4j.train.TrainStep;
import org.peft4j.train.TrainingArguments;

/**
 * The unchanged {@link Trainer} trains every prompt-learning method: only the prompt encoder gets gradients, the
 * loss falls, and a run interrupted at a checkpoint and resumed retraces the uninterrupted run bit for bit (losses
 * and every trainable parameter, including the projection / MLP / LSTM weights that the saved adapter does not
 * hold).
 */
class PromptTrainerResumeTest {
    static PromptLearningConfig config(String method) {
        return switch (method) {
            case "gpt2/prefix" -> config("prefix");
            case "gpt2/prefix-projection" -> config("prefix-projection");
            case "gpt2/ptuning-mlp" -> config("ptuning-mlp");
            // PEFT's LSTM head applies encoder_dropout between its layers (2 by default)
            case "gpt2/ptuning-lstm" -> new PromptEncoderConfig(4).taskType(TaskType.CAUSAL_LM).encoderHiddenSize(16)
                    .encoderReparameterizationType(PromptEncoderReparameterizationType.LSTM).encoderDropout(0.1);
            case "prefix" -> new PrefixTuningConfig(3).taskType(TaskType.CAUSAL_LM);
            case "prefix-projection" -> new PrefixTuningConfig(3).taskType(TaskType.CAUSAL_LM).prefixProjection(true)
                    .encoderHiddenSize(16);
            case "prompt" -> new PromptTuningConfig(4).taskType(TaskType.CAUSAL_LM);
            case "ptuning-mlp" -> new PromptEncoderConfig(4).taskType(TaskType.CAUSAL_LM).encoderHiddenSize(16);
            case "ptuning-lstm" -> new PromptEncoderConfig(4).taskType(TaskType.CAUSAL_LM).encoderHiddenSize(16)
                    .encoderReparameterizationType(PromptEncoderReparameterizationType.LSTM);
            default -> throw new IllegalArgumentException(method);
        };
    }

    /** {@code gpt2/...} cases run on the GPT-2 fixture with its dropouts (0.1 on embeddings, attention, residuals). */
    static String modelName(String method) {
        return method.startsWith("gpt2/") ? "gpt2" : "llama-gqa";
    }

    static PeftModel model(String method) throws Exception {
        return Peft.getPeftModel(AutoModelForCausalLM.fromPretrained(Fixtures.model(modelName(method))),
                config(method));
    }

    /** Two left-padded rows of different lengths; the loss counts the real tokens after the first. */
    static List<Batch> batches() {
        long[] ids = {0, 0, 7, 21, 3, 88, 14, 60, 5, 31, 9, 42, 11, 2, 17, 4};
        long[] mask = {0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
        long[] labels = {-100, -100, -100, 21, 3, 88, 14, 60, -100, 31, 9, 42, 11, 2, 17, 4};
        long[] ids2 = {1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 12, 13, 14, 15, 16};
        long[] mask2 = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1};
        long[] labels2 = {-100, 2, 3, 4, 5, 6, 7, 8, -100, -100, -100, -100, 13, 14, 15, 16};
        return List.of(new Batch(Tensor.of(ids, 2, 8), Tensor.of(mask, 2, 8), Tensor.of(labels, 2, 8)),
                new Batch(Tensor.of(ids2, 2, 8), Tensor.of(mask2, 2, 8), Tensor.of(labels2, 2, 8)));
    }

    static TrainingArguments args(Path out) {
        return TrainingArguments.builder(out).learningRate(1e-2).maxSteps(8).warmupSteps(2)
                .gradientAccumulationSteps(2).weightDecay(0.01).saveSteps(4).loggingSteps(2).build();
    }

    static Map<String, float[]> trainableValues(PeftModel m) {
        Map<String, float[]> out = new LinkedHashMap<>();
        m.namedParameters().forEach((k, p) -> {
            if (p.trainable()) {
                out.put(k, p.data().toFloatArray());
            }
        });
        return out;
    }

    static void setValues(PeftModel m, Map<String, float[]> values) {
        values.forEach((k, v) -> m.namedParameters().get(k).data().writeFloats(v));
    }

    @ParameterizedTest
    @ValueSource(strings = {"prefix", "prefix-projection", "prompt", "ptuning-mlp", "ptuning-lstm", "gpt2/prefix",
            "gpt2/prefix-projection", "gpt2/ptuning-mlp", "gpt2/ptuning-lstm"})
    void trainerTrainsOnlyTheEncoderAndResumesBitIdentically(String method, @TempDir Path out) throws Exception {
        PeftModel a = model(method);
        if (method.startsWith("gpt2/")) {
            // the case is there for its dropout: a resumed run must draw the same masks as the uninterrupted one
            assertThat(a.getBaseModel().config().getDouble("resid_pdrop")).isEqualTo(0.1);
            assertThat(a.getBaseModel().config().getDouble("attn_pdrop")).isEqualTo(0.1);
        }
        Map<String, float[]> init = trainableValues(a);
        TreeSet<String> encoderParams = a.namedParameters().keySet().stream()
                .filter(k -> k.startsWith("prompt_encoder.default.")).collect(Collectors.toCollection(TreeSet::new));
        assertThat(encoderParams).isNotEmpty();
        assertThat(init.keySet()).as("the trainable set is the prompt encoder").containsExactlyInAnyOrderElementsOf(
                encoderParams);
        if (!method.endsWith("prefix") && !method.equals("prompt")) {
            assertThat(encoderParams).as("the reparameterisation is trained").hasSizeGreaterThan(1);
        }
        // the emitted TrainStep graph has one gradient output per encoder parameter, none for the base model
        try (TrainStep step = new TrainStep(a, OrtRuntime.shared())) {
            assertThat(step.trainable().keySet()).containsExactlyInAnyOrderElementsOf(encoderParams);
            TreeSet<String> grads = step.graph().outputs().stream().map(Value::name)
                    .filter(n -> n.startsWith("grad.")).map(n -> n.substring(5))
                    .collect(Collectors.toCollection(TreeSet::new));
            assertThat(grads).isEqualTo(encoderParams);
            TrainStep.Output o = step.run(batches().get(0));
            assertThat(o.gradients().keySet()).containsExactlyInAnyOrderElementsOf(encoderParams);
            o.gradients().forEach((k, g) -> assertThat(maxAbs(g.toFloatArray())).as("gradient of %s", k)
                    .isGreaterThan(0));
        }
        Map<String, float[]> frozenBefore = new LinkedHashMap<>();
        a.namedParameters().forEach((k, p) -> {
            if (!p.trainable()) {
                frozenBefore.put(k, p.data().toFloatArray());
            }
        });
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.builder().optIntraOpThreads(1).build())) {
            List<Double> full = new Trainer(a, args(out.resolve("full")), rt).showProgress(false).train(batches());
            assertThat(full).hasSize(8);
            if (!method.startsWith("gpt2/")) {
                // the same two batches again and again: the loss falls (under GPT-2's dropout 8 steps are too noisy
                // to say so; those cases are here for the bit-identical resume)
                assertThat(full.get(6) + full.get(7)).as("losses %s", full)
                        .isLessThan(0.97 * (full.get(0) + full.get(1)));
            }
            a.namedParameters().forEach((k, p) -> {
                if (!p.trainable()) {
                    assertThat(p.data().toFloatArray()).as("frozen %s", k).containsExactly(frozenBefore.get(k));
                }
            });
            Map<String, float[]> trained = trainableValues(a);
            trained.forEach((k, v) -> assertThat(v).as("%s moved", k).isNotEqualTo(init.get(k)));

            // interrupted: 4 steps and a checkpoint ...
            Path out2 = out.resolve("second");
            PeftModel b = model(method);
            setValues(b, init);
            List<Double> firstHalf = new Trainer(b, args(out2), rt).showProgress(false).train(batches());
            assertThat(firstHalf.subList(0, 4)).isEqualTo(full.subList(0, 4));
            Path ckpt = out2.resolve("checkpoint-4");
            // the checkpoint holds the trainable encoder, not only the adapter's saved prompt_embeddings
            assertThat(PtuneFixtures.read(ckpt.resolve("model.safetensors")).keySet())
                    .containsExactlyInAnyOrderElementsOf(encoderParams);
            assertThat(PtuneFixtures.read(ckpt.resolve("adapter_model.safetensors")).keySet())
                    .containsExactly("prompt_embeddings");
            // ... resumed in a fresh model with another random encoder
            PeftModel c = model(method);
            List<Double> resumed = new Trainer(c, args(out2), rt).showProgress(false).train(batches(), ckpt);
            assertThat(resumed).isEqualTo(full.subList(4, 8));
            Map<String, float[]> after = trainableValues(c);
            trained.forEach((k, v) -> assertThat(after.get(k)).as("resumed %s", k).containsExactly(v));
            // and the final adapter, saved, loads back for inference to the trained model's logits
            Path saved = out.resolve("adapter");
            c.savePretrained(saved);
            PeftModel back = PeftModel.fromPretrained(AutoModelForCausalLM.fromPretrained(Fixtures.model(
                    modelName(method))), saved);
            Batch bt = batches().get(0);
            assertThat(PtuneFixtures.maskedMaxAbsDiff(back.logits(bt.inputIds(), bt.attentionMask()),
                    a.logits(bt.inputIds(), bt.attentionMask()), bt.attentionMask())).isLessThan(1e-5);
        }
    }

    static float maxAbs(float[] v) {
        float m = 0;
        for (float x : v) {
            m = Math.max(m, Math.abs(x));
        }
        return m;
    }
}
