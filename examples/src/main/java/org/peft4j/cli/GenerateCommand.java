package org.peft4j.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.peft4j.data.AutoTokenizer;
import org.peft4j.data.Tokenizer;
import org.peft4j.examples.AdapterInference;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.peft.PeftModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code peft4j generate}: answers prompts with a model, and with {@code --adapter} shows for each prompt the answer
 * before fine-tuning (the base model, adapters disabled) and after (base + adapter), as PEFT's tutorials compare
 * them. Each prompt is one user turn rendered with the tokenizer's chat template and the generation prompt.
 */
@Command(name = "generate", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        sortOptions = false,
        description = "Generate answers to prompts; with --adapter, the base model's answer (before fine-tuning) "
            + "and the adapter's (after) for each prompt.")
public final class GenerateCommand extends CliCommand {
    @Option(names = "--model", paramLabel = "DIR", description = "Hugging Face model folder (default: with "
            + "--adapter, the folder its adapter_config.json names in base_model_name_or_path, the embedded "
            + ModelPaths.DEFAULT_MODEL + " when it names that; without --adapter, the embedded "
            + ModelPaths.DEFAULT_MODEL + ").")
    Path model;

    @Option(names = "--adapter", paramLabel = "DIR", description = "A PEFT adapter folder (adapter_config.json, "
            + "adapter_model.safetensors), e.g. finetune's --output-dir.")
    Path adapter;

    @Option(names = "--prompt", paramLabel = "TEXT", description = "A prompt (repeatable).")
    List<String> prompts;

    @Option(names = "--prompts-file", paramLabel = "FILE", description = "JSONL with a \"prompt\" field per line, "
            + "or plain text with one prompt per line (default when no --prompt: " + ModelPaths.DEFAULT_PROMPTS
            + ").")
    Path promptsFile;

    @Option(names = "--max-new-tokens", defaultValue = "64", description = "Most tokens generated per answer "
            + "(default: ${DEFAULT-VALUE}).")
    int maxNewTokens;

    @Option(names = "--do-sample", arity = "0..1", fallbackValue = "true", defaultValue = "false",
            description = "Sample instead of greedy decoding.")
    boolean doSample;

    @Option(names = "--temperature", defaultValue = "1.0", description = "Sampling temperature "
            + "(default: ${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--top-p", defaultValue = "1.0", description = "Nucleus sampling mass (default: "
            + "${DEFAULT-VALUE}).")
    double topP;

    @Option(names = "--top-k", defaultValue = "50", description = "Sample among the k most likely tokens "
            + "(default: ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--seed", defaultValue = "42", description = "Sampling seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Mixin
    QuantOptions quant;

    @picocli.CommandLine.Mixin
    DeviceOptions deviceOptions = new DeviceOptions();

    @Override
    protected void run() throws Exception {
        deviceOptions.apply(this);
        if (adapter != null) {
            ModelPaths.requireAdapter(adapter, "--adapter");
        }
        Path modelDir = ModelPaths.requireModel(ModelPaths.baseModel(model, adapter), "--model", true, true);
        List<Prompts.Prompt> items = prompts();
        Tokenizer tokenizer = AutoTokenizer.load(modelDir);
        try {
            GenerationConfig cfg = config(tokenizer);
            PreTrainedModel base = quant.load(modelDir);
            PeftModel peft = adapter == null ? null : PeftModel.fromPretrained(base, adapter);
            out().println("model:   " + modelDir + (quant.describe() == null ? "" : " (" + quant.describe() + ")"));
            if (peft != null) {
                out().println("adapter: " + adapter);
            }
            for (int i = 0; i < items.size(); i++) {
                Prompts.Prompt p = items.get(i);
                long[] ids = AdapterInference.promptIds(tokenizer, p.text());
                checkIds(ids, base, p.text());
                out().printf("%n### prompt %d/%d: %s%n", i + 1, items.size(), p.text());
                if (p.expect() != null) {
                    out().println("expected: " + p.expect());
                }
                if (peft == null) {
                    printAnswer("answer:", AdapterInference.answer(tokenizer, base, ids, cfg));
                    continue;
                }
                AdapterInference.Answers answers = AdapterInference.beforeAndAfter(tokenizer, peft, ids, cfg);
                printAnswer("before fine-tuning (base model):", answers.base());
                printAnswer("after fine-tuning (base + adapter):", answers.adapter());
            }
            out().flush();
        } finally {
            AutoTokenizer.close(tokenizer);
        }
    }

    private List<Prompts.Prompt> prompts() {
        List<Prompts.Prompt> out = new ArrayList<>();
        if (prompts != null) {
            for (String p : prompts) {
                out.add(new Prompts.Prompt(p, null));
            }
        }
        if (promptsFile != null || out.isEmpty()) {
            Path file = ModelPaths.prompts(promptsFile);
            ModelPaths.requireFile(file, "--prompts-file", "JSONL with a \"prompt\" field per line or plain text");
            out.addAll(Prompts.read(file));
        }
        return out;
    }

    private GenerationConfig config(Tokenizer tokenizer) {
        try {
            return AdapterInference.generationConfig(tokenizer, maxNewTokens).doSample(doSample)
                    .temperature(temperature).topP(topP).topK(topK).seed(seed).build();
        } catch (IllegalArgumentException e) {
            throw new CliException("invalid generation options: " + e.getMessage(), e);
        }
    }

    private static void checkIds(long[] ids, PreTrainedModel model, String prompt) {
        for (long id : ids) {
            if (id >= model.vocabSize()) {
                throw new CliException("prompt '" + prompt + "': token id " + id + " is outside the model's "
                        + "vocabulary (vocab_size " + model.vocabSize() + "); tokenizer and model do not match");
            }
        }
    }

    private void printAnswer(String label, String text) {
        out().println(label);
        for (String line : (text.isEmpty() ? "(empty)" : text).split("\\R", -1)) {
            out().println("  " + line);
        }
    }
}
