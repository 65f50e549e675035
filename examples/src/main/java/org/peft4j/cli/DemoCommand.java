package org.peft4j.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.peft4j.data.AutoTokenizer;
import org.peft4j.data.Tokenizer;
import org.peft4j.examples.AdapterInference;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.PeftModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/**
 * The main job: LoRA fine-tuning of the embedded default model on the bundled identity and finance data, then the
 * held-out prompts answered before and after, with the adapter reloaded from disk as a user of it would.
 *
 * <ol>
 *   <li>{@code finetune} with the demo's settings (progress bar, JSONL log, {@code loss.png}, PEFT adapter);</li>
 *   <li>a fresh base model, {@code PeftModel.fromPretrained(base, adapter)}, and for every held-out prompt the
 *       answer with the adapter disabled (the base model) and enabled;</li>
 *   <li>a summary: how many answers contain the expected text, before and after.</li>
 * </ol>
 */
@Command(name = "demo", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = {"The main job: LoRA fine-tuning of the embedded default model on the bundled data "
            + "(identity and finance glossary, English and Chinese), then held-out prompts answered before and "
            + "after fine-tuning."})
public final class DemoCommand extends CliCommand {
    @Option(names = "--output-dir", paramLabel = "DIR", defaultValue = "demo_output",
            description = "Where the adapter, log and loss.png go (default: ${DEFAULT-VALUE}).")
    Path outputDir;

    @Option(names = "--num-train-epochs", defaultValue = "6", description = "Epochs (default: ${DEFAULT-VALUE}).")
    double epochs;

    @Option(names = "--max-steps", defaultValue = "-1", description = "Stop after this many optimizer steps "
            + "(default: the epochs decide).")
    long maxSteps;

    @Option(names = "--learning-rate", defaultValue = "3e-3", description = "Peak learning rate "
            + "(default: ${DEFAULT-VALUE}).")
    double learningRate;

    @Option(names = "--max-new-tokens", defaultValue = "40", description = "Most tokens per answer "
            + "(default: ${DEFAULT-VALUE}).")
    int maxNewTokens;

    @Option(names = "--peft-type", defaultValue = "LORA", paramLabel = "TYPE", description = "The method: LORA, "
            + "PREFIX_TUNING, PROMPT_TUNING or P_TUNING (default: ${DEFAULT-VALUE}).")
    String peftType;

    @Option(names = "--num-virtual-tokens", defaultValue = "20", paramLabel = "N", description = "Prompt learning: "
            + "virtual tokens (default: ${DEFAULT-VALUE}).")
    int numVirtualTokens;

    /**
     * The finetune arguments of the demo: LoRA r=16 on every linear layer, no LoRA dropout (dropout masks cost more
     * than the rest of this tiny model's LoRA step on a CPU: 2.5x the step time).
     */
    List<String> finetuneArgs() {
        List<String> a = new ArrayList<>(List.of("--output-dir", outputDir.toString(),
                "--r", "16", "--lora-alpha", "32", "--lora-dropout", "0", "--target-modules", "all-linear",
                "--learning-rate", Double.toString(learningRate), "--num-train-epochs", Double.toString(epochs),
                "--max-steps", Long.toString(maxSteps), "--per-device-train-batch-size", "8",
                "--warmup-ratio", "0.05", "--lr-scheduler-type", "cosine", "--logging-steps", "5",
                "--save-steps", "100000", "--max-length", "256", "--peft-type", peftType,
                "--num-virtual-tokens", Integer.toString(numVirtualTokens)));
        if (verbose) {
            a.add("--verbose");
        }
        return a;
    }

    @Override
    protected void run() throws Exception {
        Path modelDir = ModelPaths.requireModel(ModelPaths.model(null), "--model", true, true);
        Path promptsFile = ModelPaths.requireFile(ModelPaths.prompts(null), "--prompts-file",
                "JSONL held-out prompts");
        out().println("== peft4j demo: " + (peftType.equalsIgnoreCase("LORA") ? "LoRA" : peftType)
                + " fine-tuning of the embedded default model ==");
        out().println("The base model was pretrained from scratch by peft4j (examples/default/pretrain.sh); it"
                + " answers as a nameless assistant.");
        out().println("Fine-tuning teaches it a new identity (Abacus, by the peft4j team) and a finance glossary,"
                + " in English and Chinese.");
        out().println();
        out().flush();
        CommandLine finetune = new CommandLine(new FinetuneCommand());
        finetune.setOut(out());
        finetune.setErr(err());
        int status = finetune.execute(finetuneArgs().toArray(String[]::new));
        if (status != 0) {
            throw new CliException("fine-tuning failed (exit " + status + ")");
        }

        out().println();
        out().println("== reloading the adapter from " + outputDir + " and answering held-out prompts ==");
        out().println("(these prompts are not in the fine-tuning data)");
        List<Prompts.Prompt> prompts = Prompts.read(promptsFile);
        int before = 0;
        int after = 0;
        int expected = 0;
        Tokenizer tokenizer = AutoTokenizer.load(modelDir);
        try {
            GenerationConfig cfg = AdapterInference.generationConfig(tokenizer, maxNewTokens).build();
            PeftModel peft = PeftModel.fromPretrained(AutoModelForCausalLM.fromPretrained(modelDir), outputDir);
            for (Prompts.Prompt p : prompts) {
                long[] ids = AdapterInference.promptIds(tokenizer, p.text());
                AdapterInference.Answers answers = AdapterInference.beforeAndAfter(tokenizer, peft, ids, cfg);
                String b = answers.base();
                String a = answers.adapter();
                out().printf("%n> %s%n", p.text());
                out().printf("  before: %s%n", b.isEmpty() ? "(empty)" : b);
                out().printf("  after:  %s%n", a.isEmpty() ? "(empty)" : a);
                if (p.expect() != null) {
                    expected++;
                    before += b.contains(p.expect()) ? 1 : 0;
                    after += a.contains(p.expect()) ? 1 : 0;
                }
            }
        } finally {
            AutoTokenizer.close(tokenizer);
        }
        out().println();
        out().printf(Locale.ROOT, "held-out answers containing the expected text: before %d/%d, after %d/%d%n",
                before, expected, after, expected);
        out().println("adapter: " + outputDir.resolve("adapter_model.safetensors") + " (PEFT format: "
                + "PeftModel.from_pretrained(base, \"" + outputDir + "\") loads it in Python)");
        out().println("loss curve: " + outputDir.resolve(FinetuneCommand.LOSS_PLOT));
        out().flush();
    }
}
