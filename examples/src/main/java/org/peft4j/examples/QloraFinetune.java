package org.peft4j.examples;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.peft4j.data.HfTokenizer;
import org.peft4j.data.InstructionData;
import org.peft4j.data.PaddingCollator;
import org.peft4j.data.SftTokenizer;
import org.peft4j.data.TokenizedExample;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.lora.LoraConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.config.TaskType;
import org.peft4j.qlora.BitsAndBytesConfig;
import org.peft4j.qlora.KbitTraining;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.DType;
import org.peft4j.train.Trainer;
import org.peft4j.train.TrainingArguments;

/**
 * QLoRA the way the usual Python script does it (a 4-bit base from {@code BitsAndBytesConfig}, PEFT's
 * {@code prepare_model_for_kbit_training} with gradient checkpointing, LoRA on top, transformers' {@code Trainer}
 * with a paged 8-bit optimizer, then {@code PeftModel.from_pretrained} on a fresh 4-bit base to compare answers
 * before and after), step for step in peft4j:
 *
 * <pre>
 * bnb_config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
 *                                 bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=torch.float32)
 * model = AutoModelForCausalLM.from_pretrained(model_dir, quantization_config=bnb_config)
 * model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
 * model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear",
 *                                          task_type="CAUSAL_LM"))              # loraConfig()
 * Trainer(model, TrainingArguments(output_dir, optim="paged_adamw_8bit", gradient_checkpointing=True, ...),
 *         train_dataset=...).train()
 * model.save_pretrained(adapter_dir)
 * base = AutoModelForCausalLM.from_pretrained(model_dir, quantization_config=bnb_config)
 * peft_model = PeftModel.from_pretrained(base, adapter_dir)       # answers with and without the adapter
 * </pre>
 *
 * <pre>
 * java ... org.peft4j.examples.QloraFinetune [model folder] [train.jsonl] [work folder] [max steps]
 * </pre>
 * Defaults: the embedded default model and data ({@code examples/default}), a temporary folder, 150 steps.
 */
public final class QloraFinetune {
    /** Held-out prompts answered before and after (not in the training data). */
    public static final List<String> PROMPTS = List.of("What is your name?", "Who built you?", "你叫什么名字？");

    private QloraFinetune() {
    }

    /** The adapter's config: r=16, alpha 32, dropout 0.05 on every linear layer but lm_head. */
    public static LoraConfig loraConfig() {
        return LoraConfig.builder()
                .taskType(TaskType.CAUSAL_LM)
                .r(16)
                .loraAlpha(32)
                .loraDropout(0.05)
                .targetModules("all-linear")
                .build();
    }

    /** What a run produced, for the test. */
    public record Result(String trainableLine, List<Double> losses, Path adapterDir,
            List<AdapterInference.Answers> answers) {
    }

    /**
     * Runs the script: {@code maxSteps} optimizer steps on {@code trainFile}, files under {@code workDir}, then
     * answers {@code prompts} with at most {@code maxNewTokens} tokens each.
     */
    public static Result run(Path modelDir, Path trainFile, Path workDir, int maxSteps, List<String> prompts,
            int maxNewTokens) throws IOException {
        Path outputDir = workDir.resolve("out");
        Path adapterDir = workDir.resolve("qlora-adapter");
        try (HfTokenizer tokenizer = HfTokenizer.load(modelDir)) {
            List<TokenizedExample> train = SftTokenizer.of(tokenizer, 256).tokenizeAll(InstructionData.load(trainFile));

            // --- the QLoRA script ---
            BitsAndBytesConfig bnbConfig = BitsAndBytesConfig.builder()
                    .loadIn4bit(true)
                    .bnb4bitQuantType("nf4")
                    .bnb4bitUseDoubleQuant(true)
                    .bnb4bitComputeDtype(DType.F32)
                    .build();
            PreTrainedModel model = AutoModelForCausalLM.fromPretrained(modelDir, bnbConfig);
            KbitTraining.prepareModelForKbitTraining(model, true);
            LoraConfig config = loraConfig();
            PeftModel peftModel = Peft.getPeftModel(model, config);
            String line = peftModel.printTrainableParameters();

            TrainingArguments args = TrainingArguments.builder(outputDir)
                    .learningRate(3e-3)
                    .maxSteps(maxSteps)
                    .perDeviceTrainBatchSize(8)
                    .warmupRatio(0.05)
                    .lrSchedulerType("cosine")
                    .optim("paged_adamw_8bit")
                    .gradientCheckpointing(true)
                    .loggingSteps(10)
                    .saveSteps(100_000)
                    .build();
            Trainer trainer = new Trainer(peftModel, args, OrtRuntime.shared());
            List<Double> losses = trainer.train(train, List.of(), PaddingCollator.forTokenizer(tokenizer), null);
            peftModel.savePretrained(adapterDir);

            PreTrainedModel base = AutoModelForCausalLM.fromPretrained(modelDir, bnbConfig);
            PeftModel loaded = PeftModel.fromPretrained(base, adapterDir);
            // --- end of the script ---

            GenerationConfig cfg = AdapterInference.generationConfig(tokenizer, maxNewTokens).build();
            List<AdapterInference.Answers> answers = new ArrayList<>();
            for (String p : prompts) {
                answers.add(AdapterInference.beforeAndAfter(tokenizer, loaded,
                        AdapterInference.promptIds(tokenizer, p), cfg));
            }
            return new Result(line, losses, adapterDir, answers);
        }
    }

    public static void main(String[] args) throws IOException {
        Path modelDir = Path.of(args.length > 0 ? args[0] : "examples/default/model");
        Path trainFile = Path.of(args.length > 1 ? args[1] : "examples/default/data/train.jsonl");
        Path workDir = args.length > 2 ? Path.of(args[2]) : Files.createTempDirectory("peft4j-qlora");
        int steps = args.length > 3 ? Integer.parseInt(args[3]) : 150;
        Result r = run(modelDir, trainFile, workDir, steps, PROMPTS, 40);
        System.out.printf("loss: first step %.4f, last step %.4f%n", r.losses().get(0),
                r.losses().get(r.losses().size() - 1));
        for (int i = 0; i < PROMPTS.size(); i++) {
            System.out.printf("%n> %s%n  before: %s%n  after:  %s%n", PROMPTS.get(i), r.answers().get(i).base(),
                    r.answers().get(i).adapter());
        }
        System.out.println("adapter saved in " + r.adapterDir());
    }
}
