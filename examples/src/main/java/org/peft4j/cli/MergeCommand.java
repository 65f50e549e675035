package org.peft4j.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.peft.PeftModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code peft4j merge}: loads a base model and a PEFT adapter, merges the adapter into the base weights
 * ({@code merge_and_unload}) and writes a plain Hugging Face folder ({@code config.json}, {@code model.safetensors}
 * and the base folder's tokenizer files) that transformers and peft4j load without PEFT.
 */
@Command(name = "merge", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        sortOptions = false,
        description = {"Merge a LoRA adapter into its base model and save a plain Hugging Face model folder.",
            "A QLoRA adapter is best merged into the full-precision base (the default): the result is a float "
                + "folder with the adapter exactly in its weights. With --load-in-4bit the base is quantized, the "
                + "adapter merged into the dequantized weights and the result re-quantized, as PEFT's "
                + "merge_and_unload on a 4-bit model (rounding errors; a 4-bit folder is saved)."})
public final class MergeCommand extends CliCommand {
    /** Tokenizer and generation files copied from the base folder when present. */
    static final List<String> TOKENIZER_FILES = List.of("tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "generation_config.json", "chat_template.jinja", "tokenizer.model");

    @Option(names = "--model", paramLabel = "DIR", description = "The base model's Hugging Face folder (default: "
            + "the folder the adapter's adapter_config.json names in base_model_name_or_path; the embedded "
            + ModelPaths.DEFAULT_MODEL + " when it names that).")
    Path model;

    @Option(names = "--adapter", paramLabel = "DIR", required = true, description = "The PEFT adapter folder.")
    Path adapter;

    @Option(names = "--output-dir", paramLabel = "DIR", required = true, description = "Where the merged model is "
            + "written.")
    Path outputDir;

    @Mixin
    QuantOptions quant;

    @picocli.CommandLine.Mixin
    DeviceOptions deviceOptions = new DeviceOptions();

    @Override
    protected void run() throws Exception {
        deviceOptions.apply(this);
        ModelPaths.requireAdapter(adapter, "--adapter");
        Path modelDir = ModelPaths.requireModel(ModelPaths.baseModel(model, adapter), "--model", true, false);
        if (Files.exists(outputDir) && !Files.isDirectory(outputDir)) {
            throw new CliException("--output-dir " + outputDir + ": is a file, expected a folder");
        }
        if (Files.isDirectory(outputDir) && Files.isSameFile(outputDir, modelDir)) {
            throw new CliException("--output-dir " + outputDir + " is the --model folder; the merged model must go "
                    + "to another folder (the base weights are read from it)");
        }
        ModelPaths.requireWritableFolder(outputDir, "--output-dir");
        PreTrainedModel base = quant.load(modelDir);
        PeftModel peft = PeftModel.fromPretrained(base, adapter);
        PreTrainedModel merged = peft.mergeAndUnload();
        merged.savePretrained(outputDir);
        List<String> copied = new ArrayList<>();
        for (String name : TOKENIZER_FILES) {
            Path src = modelDir.resolve(name);
            if (Files.isRegularFile(src)) {
                Files.copy(src, outputDir.resolve(name), StandardCopyOption.REPLACE_EXISTING);
                copied.add(name);
            }
        }
        out().println("merged " + adapter + " into " + modelDir + (quant.describe() == null ? ""
                : " loaded in " + quant.describe() + " (re-quantized after the merge)"));
        out().println("saved:  " + outputDir + " (config.json, model.safetensors"
                + (copied.isEmpty() ? "" : ", " + String.join(", ", copied)) + ")");
    }
}
