package org.peft4j.runtime;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.peft4j.data.Batch;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.tensor.Tensor;
import org.peft4j.train.Trainer;
import org.peft4j.train.TrainingArguments;

/**
 * A plain {@code main} that loads ONNX Runtime, runs a forward pass and two training steps on the calling (main)
 * thread; {@link NativeStackTest} starts it in a JVM with the default 1 MiB thread stack. Prints "ok" and the loss.
 * Arguments: the model folder and an output folder.
 */
public final class DefaultStackMain {
    private DefaultStackMain() {
    }

    public static void main(String[] args) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Path.of(args[0]));
        Tensor ids = Tensor.of(new long[] {1, 5, 9, 2, 7, 3, 8, 4}, 1, 8);
        Tensor logits = m.logits(ids, null);
        long[] mask = new long[8];
        java.util.Arrays.fill(mask, 1);
        Batch b = new Batch(ids, Tensor.of(mask, 1, 8), ids);
        Path out = Files.createDirectories(Path.of(args[1]));
        TrainingArguments targs = TrainingArguments.builder(out).learningRate(1e-3).maxSteps(2).loggingSteps(1)
                .saveSteps(100).build();
        List<Double> losses = new Trainer(m, targs, OrtRuntime.shared()).showProgress(false).train(List.of(b));
        System.out.println("ok logits " + logits.dim(-1) + " loss " + losses.get(losses.size() - 1) + " on "
                + Thread.currentThread().getName());
    }
}
