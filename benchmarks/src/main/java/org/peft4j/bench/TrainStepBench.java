package org.peft4j.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.peft4j.lora.LoraConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.data.Batch;
import org.peft4j.train.Trainer;
import org.peft4j.train.TrainingArguments;

/**
 * Throughput of LoRA training steps through the ordinary {@link Trainer}: a real Hugging Face config with its
 * decoder cut to {@code --layers} layers and random weights, LoRA r=16 (alpha 32) on {@code q_proj} and
 * {@code v_proj}, batches of {@code --batch} x {@code --tokens} tokens, {@code --steps} optimizer steps after
 * {@code --warmup} untimed ones. Prints the training tokens per second of the timed steps; run it under
 * {@code /usr/bin/time -v} for the peak resident size. Never run by {@code mvn verify}.
 *
 * <pre>benchmarks/run-paired.sh TrainStepBench [--config qwen2.5-0.5b] [--layers 2] [--tokens 128] [--batch 4]
 *     [--steps 10] [--warmup 2]</pre>
 */
public final class TrainStepBench {
    private TrainStepBench() {
    }

    public static void main(String[] args) throws Exception {
        String config = "qwen2.5-0.5b";
        int layers = 2;
        int tokens = 128;
        int batch = 4;
        int steps = 10;
        int warmup = 2;
        for (int i = 0; i < args.length; i += 2) {
            String v = args[i + 1];
            switch (args[i]) {
                case "--config": config = v; break;
                case "--layers": layers = Integer.parseInt(v); break;
                case "--tokens": tokens = Integer.parseInt(v); break;
                case "--batch": batch = Integer.parseInt(v); break;
                case "--steps": steps = Integer.parseInt(v); break;
                case "--warmup": warmup = Integer.parseInt(v); break;
                default: throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        PreTrainedModel base = LlamaBench.withRandomWeights(config, layers);
        PeftModel pm = Peft.getPeftModel(base, LoraConfig.builder().r(16).loraAlpha(32)
                .targetModules("q_proj", "v_proj").build());
        List<Batch> batches = LlamaBench.syntheticBatches(4, batch, tokens, base.vocabSize());
        Path out = Files.createTempDirectory("trainstep-bench");
        OrtRuntime rt = OrtRuntime.shared();
        Trainer warm = new Trainer(pm, args(out, warmup), rt).showProgress(false);
        warm.train(batches);
        Trainer timed = new Trainer(pm, args(out, steps), rt).showProgress(false);
        long t0 = System.nanoTime();
        timed.train(batches);
        double s = (System.nanoTime() - t0) / 1e9;
        double tps = (double) steps * batch * tokens / s;
        System.out.printf(Locale.ROOT, "config=%s layers=%d batch=%d tokens=%d steps=%d: %.2f s, %.1f tokens/s%n",
                config, layers, batch, tokens, steps, s, tps);
    }

    private static TrainingArguments args(Path out, int steps) {
        return TrainingArguments.builder(out).maxSteps(steps).learningRate(1e-4).saveSteps(1_000_000)
                .loggingSteps(1_000_000).build();
    }
}
