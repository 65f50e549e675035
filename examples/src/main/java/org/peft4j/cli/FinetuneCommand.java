package org.peft4j.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.TreeMap;
import org.peft4j.data.DataFormatException;
import org.peft4j.data.AutoTokenizer;
import org.peft4j.data.PaddingCollator;
import org.peft4j.data.SftDataset;
import org.peft4j.data.SftTokenizer;
import org.peft4j.data.TokenizedExample;
import org.peft4j.data.Tokenizer;
import org.peft4j.lora.LoraConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.peft.tuners.PromptLearningConfig;
import org.peft4j.peft.tuners.TunerConfig;
import org.peft4j.qlora.KbitTraining;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.train.Trainer;
import org.peft4j.train.TrainingArguments;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code peft4j finetune}: LoRA fine-tuning of a Hugging Face model folder on instruction data (alpaca or chat
 * records, JSON or JSONL), as PEFT + transformers' {@code Trainer} do it; QLoRA with {@code --load-in-4bit} (the base
 * quantized at load, then PEFT's {@code prepare_model_for_kbit_training}); prefix tuning, prompt tuning or P-tuning
 * with {@code --peft-type}. The model folder's tokenizer and chat
 * template tokenise the data with labels on the responses only ({@link SftTokenizer}); the {@link Trainer} shows a
 * progress bar, logs to {@code output-dir/trainer_log.jsonl} and writes checkpoints; the adapter is saved in PEFT's
 * format in the output folder, next to {@code loss.png}.
 */
@Command(name = "finetune", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        sortOptions = false,
        description = "LoRA (or, with --peft-type, prompt-learning) fine-tuning of a Hugging Face model folder on "
            + "instruction data (JSON / JSONL, alpaca or "
            + "chat records). Saves the adapter (PEFT format), the JSONL log and loss.png in --output-dir.")
public final class FinetuneCommand extends CliCommand {
    /** The loss curve's file name in the output folder. */
    public static final String LOSS_PLOT = "loss.png";

    @Option(names = "--model", paramLabel = "DIR", description = "Hugging Face model folder: config.json, "
            + "*.safetensors, tokenizer.json, tokenizer_config.json (default: the embedded "
            + ModelPaths.DEFAULT_MODEL + ").")
    Path model;

    @Option(names = "--data", paramLabel = "FILE", description = "Training data, JSON array or JSONL of alpaca "
            + "({instruction, input, output}) or chat ({messages}) records (default: "
            + ModelPaths.DEFAULT_TRAIN_DATA + ").")
    Path data;

    @Option(names = "--eval-data", paramLabel = "FILE", description = "Evaluation data (same formats), evaluated "
            + "every --eval-steps.")
    Path evalData;

    @Option(names = "--output-dir", paramLabel = "DIR", defaultValue = "trainer_output",
            description = "Where the adapter, checkpoints, log and loss.png go (default: ${DEFAULT-VALUE}).")
    Path outputDir;

    @Option(names = "--resume-from-checkpoint", paramLabel = "DIR|latest", description = "Continue from a "
            + "checkpoint folder, or from the newest checkpoint-N in --output-dir (true or latest).")
    String resumeFromCheckpoint;

    @Option(names = "--max-length", defaultValue = "1024", description = "Longest example in tokens; longer ones "
            + "are truncated (default: ${DEFAULT-VALUE}).")
    int maxLength;

    @Mixin
    LoraOptions lora;

    @Mixin
    TargetOptions targets;

    @Mixin
    TrainingOptions training;

    @Mixin
    QuantOptions quant;

    @Mixin
    PromptOptions prompt;

    @picocli.CommandLine.Mixin
    DeviceOptions deviceOptions = new DeviceOptions();

    @Override
    protected void run() throws Exception {
        deviceOptions.apply(this);
        Path modelDir = ModelPaths.requireModel(ModelPaths.model(model), "--model", true, true);
        Path trainFile = ModelPaths.requireFile(ModelPaths.trainData(data), "--data",
                "a JSON or JSONL file of instruction records");
        if (evalData != null) {
            ModelPaths.requireFile(evalData, "--eval-data", "a JSON or JSONL file of instruction records");
        }
        if (maxLength <= 0) {
            throw new CliException("--max-length must be > 0, got " + maxLength);
        }
        ModelPaths.requireWritableFolder(outputDir, "--output-dir");
        LoraConfig loraConfig = prompt.isLora() ? lora.build(targets) : null;
        TrainingArguments args = training.build(outputDir, evalData != null);
        Path resume = Checkpoints.resolve(resumeFromCheckpoint, outputDir);

        Tokenizer tokenizer = AutoTokenizer.load(modelDir);
        try {
            SftTokenizer sft = SftTokenizer.of(tokenizer, maxLength);
            List<TokenizedExample> train = tokenize(sft, trainFile, "--data");
            List<TokenizedExample> eval = evalData == null ? List.of() : tokenize(sft, evalData, "--eval-data");

            PreTrainedModel base = quant.load(modelDir);
            if (quant.config() != null) {
                KbitTraining.prepareModelForKbitTraining(base, args.gradientCheckpointing());
            }
            checkVocabulary(train, base, modelDir, trainFile);
            checkVocabulary(eval, base, modelDir, evalData);
            PeftConfig peftConfig = loraConfig != null ? loraConfig : prompt.build(modelDir, tokenizer);
            PeftModel peftModel = Peft.getPeftModel(base, peftConfig);
            out().printf("model:   %s (%s, %d layers%s)%n", modelDir, base.config().modelType(), base.numLayers(),
                    quant.describe() == null ? "" : ", " + quant.describe());
            out().printf("data:    %s (%d examples, %,d tokens, %,d in responses)%n", trainFile, train.size(),
                    tokens(train, false), tokens(train, true));
            if (!eval.isEmpty()) {
                out().printf("eval:    %s (%d examples)%n", evalData, eval.size());
            }
            if (loraConfig != null) {
                TunerConfig used = (TunerConfig) peftModel.activePeftConfig();
                List<String> adapted = new ArrayList<>(peftModel.tuner().tunerLayers().keySet());
                out().printf(Locale.ROOT, "LoRA:    r=%d, lora_alpha=%s, lora_dropout=%s, target_modules=%s%n",
                        loraConfig.r(), num(loraConfig.loraAlpha()), num(loraConfig.loraDropout()),
                        TargetSelection.describe(loraConfig.targetModules(), used.targetModules(), adapted));
            } else {
                out().println("method:  " + PromptOptions.describe((PromptLearningConfig) peftModel.activePeftConfig()));
            }
            out().println(trainableLine(peftModel));
            if (resume != null) {
                out().println("resuming from " + resume);
            }
            out().flush();

            Trainer trainer = new Trainer(peftModel, args, OrtRuntime.shared());
            if (resume == null) {
                Files.deleteIfExists(trainer.logFile());
            }
            List<Double> losses = trainer.train(train, eval, PaddingCollator.forTokenizer(tokenizer), resume);
            long total = trainer.totalSteps(Math.max(1,
                    (train.size() + args.perDeviceTrainBatchSize() - 1) / args.perDeviceTrainBatchSize()));

            peftModel.savePretrained(outputDir);
            Path plot = outputDir.resolve(LOSS_PLOT);
            LossPlot.Curves curves = curves(trainer.logFile(), losses, total);
            if (curves.isEmpty()) {
                out().println("no steps were run (the checkpoint is already at step " + total + "); "
                        + LOSS_PLOT + " not written");
            } else {
                LossPlot.write(curves, plot, (loraConfig != null ? "LoRA" : peftConfig.peftType().name())
                        + " fine-tuning of " + modelDir.getFileName());
            }
            report(losses, curves, plot, trainer.logFile(), total - losses.size() + 1);
        } finally {
            AutoTokenizer.close(tokenizer);
        }
    }

    /**
     * Loads and tokenises a data file with the library's {@link SftDataset} (examples whose responses were truncated
     * away are dropped, with a note).
     */
    private List<TokenizedExample> tokenize(SftTokenizer sft, Path file, String option) {
        SftDataset data;
        try {
            data = SftDataset.load(file, sft, maxLength);
        } catch (DataFormatException e) {
            throw new CliException(option + " " + e.getMessage().replace("max length", "--max-length"), e);
        } catch (RuntimeException e) {
            throw new CliException(option + " " + file + ": cannot tokenise: " + describe(e), e);
        }
        if (data.skipped() > 0) {
            err().printf("note: %d of %d examples of %s have no response tokens within --max-length %d and are "
                    + "skipped%n", data.skipped(), data.records(), file, maxLength);
        }
        return data.examples();
    }

    private static void checkVocabulary(List<TokenizedExample> examples, PreTrainedModel model, Path modelDir,
            Path file) {
        long max = -1;
        for (TokenizedExample ex : examples) {
            for (long id : ex.inputIds()) {
                max = Math.max(max, id);
            }
        }
        if (max >= model.vocabSize()) {
            throw new CliException(file + ": token id " + max + " from " + modelDir.resolve("tokenizer.json")
                    + " is outside the model's vocabulary (vocab_size " + model.vocabSize() + " in "
                    + modelDir.resolve("config.json") + ")");
        }
    }

    /** The logged curves; when nothing was logged (fewer steps than logging_steps), this run's step losses. */
    private static LossPlot.Curves curves(Path log, List<Double> losses, long total) throws java.io.IOException {
        LossPlot.Curves logged = Files.isRegularFile(log) ? LossPlot.read(log)
                : new LossPlot.Curves(new TreeMap<>(), new TreeMap<>());
        if (!logged.train().isEmpty() || losses.isEmpty()) {
            return logged;
        }
        TreeMap<Long, Double> train = new TreeMap<>();
        long first = total - losses.size() + 1;
        for (int i = 0; i < losses.size(); i++) {
            train.put(first + i, losses.get(i));
        }
        return new LossPlot.Curves(train, logged.eval());
    }

    /** The summary; an eval loss only when this run evaluated (not one a resumed run's log holds from before). */
    private void report(List<Double> losses, LossPlot.Curves curves, Path plot, Path log, long firstStepOfThisRun) {
        if (!losses.isEmpty()) {
            out().printf(Locale.ROOT, "trained %d steps: loss %.4f -> %.4f%n", losses.size(), losses.get(0),
                    losses.get(losses.size() - 1));
        }
        if (!curves.eval().isEmpty() && !losses.isEmpty() && curves.eval().lastKey() >= firstStepOfThisRun) {
            out().printf(Locale.ROOT, "eval loss at step %d: %.4f%n", curves.eval().lastKey(),
                    curves.eval().lastEntry().getValue());
        }
        out().println("adapter:   " + outputDir.resolve("adapter_model.safetensors") + " (+ adapter_config.json)");
        out().println("log:       " + log);
        if (!curves.isEmpty()) {
            out().println("loss plot: " + plot);
        }
        Checkpoints.latest(outputDir).ifPresent(c -> out().println("checkpoint: " + c));
    }

    /** PEFT's {@code print_trainable_parameters} line. */
    static String trainableLine(PeftModel m) {
        long[] n = m.getNbTrainableParameters();
        return String.format(Locale.ROOT, "trainable params: %,d || all params: %,d || trainable%%: %.4f", n[0], n[1],
                100.0 * n[0] / n[1]);
    }

    private static long tokens(List<TokenizedExample> examples, boolean counted) {
        long n = 0;
        for (TokenizedExample ex : examples) {
            n += counted ? ex.countedTokens() : ex.length();
        }
        return n;
    }

    private static String num(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }
}
