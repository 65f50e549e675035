package org.peft4j.examples;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.peft4j.data.Batch;
import org.peft4j.lora.LoraConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.config.TaskType;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.Tensor;
import org.peft4j.train.Trainer;
import org.peft4j.train.TrainingArguments;

/**
 * PEFT's quickstart in peft4j, the code shown in the README next to the Python: wrap a model with a LoRA adapter,
 * print the trainable parameters, train, save the adapter, load it onto a fresh base model and merge it.
 *
 * <pre>
 * java ... org.peft4j.examples.LoraQuickstart [model folder] [work folder]
 * </pre>
 * Defaults: the tiny fixture model {@code interop/fixtures/models/llama-mha} and a temporary folder. The training
 * data is one short token sequence that the adapter learns to continue.
 */
public final class LoraQuickstart {
    /** The sequence the adapter is trained on (token ids of the tiny fixture vocabulary). */
    static final long[] SEQUENCE = {7, 21, 3, 88, 14, 60, 5, 31, 9, 42};

    private LoraQuickstart() {
    }

    /** What a run produced, for the test. */
    public record Result(String trainableLine, List<Double> losses, Path adapterDir, Tensor peftLogits,
            Tensor mergedLogits) {
    }

    /** One batch holding {@link #SEQUENCE}, labels equal to the inputs (the loss shifts them by one). */
    static List<Batch> batches() {
        long[] mask = new long[SEQUENCE.length];
        Arrays.fill(mask, 1);
        int n = SEQUENCE.length;
        return List.of(new Batch(Tensor.of(SEQUENCE, 1, n), Tensor.of(mask, 1, n), Tensor.of(SEQUENCE, 1, n)));
    }

    /** Runs the quickstart with {@code steps} optimizer steps; files go under {@code workDir}. */
    public static Result run(Path modelDir, Path workDir, int steps) throws IOException {
        List<Batch> batches = batches();
        Path outputDir = workDir.resolve("out");
        Path adapterDir = workDir.resolve("lora-adapter");

        // --- quickstart (README) ---
        PreTrainedModel model = AutoModelForCausalLM.fromPretrained(modelDir);
        LoraConfig config = LoraConfig.builder()
                .taskType(TaskType.CAUSAL_LM)
                .r(8)
                .loraAlpha(32)
                .loraDropout(0.1)
                .targetModules("q_proj", "v_proj")
                .build();
        PeftModel peftModel = Peft.getPeftModel(model, config);
        String line = peftModel.printTrainableParameters();

        TrainingArguments args = TrainingArguments.builder(outputDir)
                .learningRate(1e-2)
                .maxSteps(steps)
                .build();
        Trainer trainer = new Trainer(peftModel, args, OrtRuntime.shared());
        List<Double> losses = trainer.train(batches);

        peftModel.savePretrained(adapterDir);

        PreTrainedModel base = AutoModelForCausalLM.fromPretrained(modelDir);
        PeftModel loaded = PeftModel.fromPretrained(base, adapterDir);
        Tensor ids = batches.get(0).inputIds();
        Tensor peftLogits = loaded.logits(ids, null);
        PreTrainedModel merged = loaded.mergeAndUnload();
        Tensor mergedLogits = merged.logits(ids, null);
        // --- end of quickstart ---

        return new Result(line, losses, adapterDir, peftLogits, mergedLogits);
    }

    public static void main(String[] args) throws IOException {
        Path modelDir = Path.of(args.length > 0 ? args[0] : "interop/fixtures/models/llama-mha");
        Path workDir = args.length > 1 ? Path.of(args[1]) : Files.createTempDirectory("peft4j-quickstart");
        Result r = run(modelDir, workDir, 30);
        System.out.printf("loss: first step %.4f, last step %.4f%n", r.losses().get(0),
                r.losses().get(r.losses().size() - 1));
        System.out.println("adapter saved in " + r.adapterDir());
    }
}
