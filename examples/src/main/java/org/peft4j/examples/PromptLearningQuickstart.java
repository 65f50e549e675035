package org.peft4j.examples;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.peft4j.data.Batch;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.config.TaskType;
import org.peft4j.peft.tuners.PromptLearningConfig;
import org.peft4j.prefix.PrefixTuningConfig;
import org.peft4j.prefix.PromptEncoderConfig;
import org.peft4j.prefix.PromptTuningConfig;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.Tensor;
import org.peft4j.train.Trainer;
import org.peft4j.train.TrainingArguments;

/**
 * PEFT's prompt-learning methods in peft4j, one program for the three families: prefix tuning
 * ({@code PrefixTuningConfig}), prompt tuning ({@code PromptTuningConfig}) and P-tuning ({@code PromptEncoderConfig}).
 * Wrap a model, print the trainable parameters, train, save the adapter, load it onto a fresh base model and generate.
 *
 * <pre>
 * java ... org.peft4j.examples.PromptLearningQuickstart prefix|prompt|p-tuning [model folder] [work folder]
 * </pre>
 * Defaults: the tiny fixture model {@code interop/fixtures/models/llama-mha} and a temporary folder. The training
 * data is the short token sequence of {@link LoraQuickstart}, which the adapter learns to continue.
 */
public final class PromptLearningQuickstart {
    /** The methods this example runs, by the name given on the command line. */
    public static final List<String> METHODS = List.of("prefix", "prompt", "p-tuning");

    private PromptLearningQuickstart() {
    }

    /** What a run produced, for the test. */
    public record Result(String method, String trainableLine, List<Double> losses, Path adapterDir,
            Tensor trainedLogits, Tensor loadedLogits, long[] generated) {
    }

    /** The method's config: 8 virtual tokens, causal language modelling. */
    public static PromptLearningConfig config(String method) {
        return switch (method) {
            case "prefix" -> new PrefixTuningConfig(8).taskType(TaskType.CAUSAL_LM);
            case "prompt" -> new PromptTuningConfig(8).taskType(TaskType.CAUSAL_LM);
            case "p-tuning" -> new PromptEncoderConfig(8).encoderHiddenSize(64).taskType(TaskType.CAUSAL_LM);
            default -> throw new IllegalArgumentException("unknown method '" + method + "', expected one of "
                    + METHODS);
        };
    }

    /** Runs the quickstart for {@code method} with {@code steps} optimizer steps; files go under {@code workDir}. */
    public static Result run(String method, Path modelDir, Path workDir, int steps) throws IOException {
        List<Batch> batches = LoraQuickstart.batches();
        Path outputDir = workDir.resolve("out");
        Path adapterDir = workDir.resolve(method + "-adapter");
        Tensor ids = batches.get(0).inputIds();

        // --- quickstart ---
        PreTrainedModel model = AutoModelForCausalLM.fromPretrained(modelDir);
        PromptLearningConfig config = config(method);
        PeftModel peftModel = Peft.getPeftModel(model, config);
        String line = peftModel.printTrainableParameters();

        TrainingArguments args = TrainingArguments.builder(outputDir)
                .learningRate(1e-1)
                .maxSteps(steps)
                .build();
        Trainer trainer = new Trainer(peftModel, args, OrtRuntime.shared());
        List<Double> losses = trainer.train(batches);
        Tensor trainedLogits = peftModel.logits(ids, null);

        peftModel.savePretrained(adapterDir);

        PreTrainedModel base = AutoModelForCausalLM.fromPretrained(modelDir);
        PeftModel loaded = PeftModel.fromPretrained(base, adapterDir);
        Tensor loadedLogits = loaded.logits(ids, null);
        long[] prompt = Arrays.copyOf(LoraQuickstart.SEQUENCE, 3);
        long[] mask = new long[prompt.length];
        Arrays.fill(mask, 1);
        long[] generated = loaded.generate(new long[][] {prompt}, new long[][] {mask},
                GenerationConfig.greedy(LoraQuickstart.SEQUENCE.length - prompt.length))[0];
        // --- end of quickstart ---

        return new Result(method, line, losses, adapterDir, trainedLogits, loadedLogits, generated);
    }

    public static void main(String[] args) throws IOException {
        String method = args.length > 0 ? args[0] : "prefix";
        Path modelDir = Path.of(args.length > 1 ? args[1] : "interop/fixtures/models/llama-mha");
        Path workDir = args.length > 2 ? Path.of(args[2]) : Files.createTempDirectory("peft4j-prompt-learning");
        Result r = run(method, modelDir, workDir, 30);
        System.out.printf(Locale.ROOT, "%s: loss first step %.4f, last step %.4f%n", method, r.losses().get(0),
                r.losses().get(r.losses().size() - 1));
        System.out.println("adapter saved in " + r.adapterDir());
        System.out.println("generated: " + Arrays.toString(r.generated()));
    }
}
