package org.peft4j.cli;

import java.util.List;
import java.util.Locale;
import org.peft4j.lora.LoraConfig;
import org.peft4j.peft.config.TaskType;
import picocli.CommandLine.Option;

/** LoraConfig's fields as options ({@code --r}, {@code --lora-alpha}, ...), with the finetune defaults. */
public final class LoraOptions {
    @Option(names = "--r", defaultValue = "8", description = "LoRA rank (default: ${DEFAULT-VALUE}).")
    int r;

    @Option(names = "--lora-alpha", defaultValue = "16", description = "LoRA alpha; the scaling is alpha / r "
            + "(default: ${DEFAULT-VALUE}; PEFT's LoraConfig default is 8).")
    double loraAlpha;

    @Option(names = "--lora-dropout", defaultValue = "0.05", description = "Dropout before the LoRA branch "
            + "(default: ${DEFAULT-VALUE}; PEFT's LoraConfig default is 0.0).")
    double loraDropout;

    @Option(names = "--use-rslora", arity = "0..1", fallbackValue = "true", defaultValue = "false",
            description = "Rank-stabilised scaling alpha / sqrt(r).")
    boolean useRslora;

    @Option(names = "--use-dora", arity = "0..1", fallbackValue = "true", defaultValue = "false",
            description = "Weight-decomposed LoRA (DoRA).")
    boolean useDora;

    @Option(names = "--init-lora-weights", defaultValue = "true", paramLabel = "INIT",
            description = "true (A kaiming-uniform, B zero), false, gaussian, pissa or olora "
                + "(default: ${DEFAULT-VALUE}).")
    String initLoraWeights;

    @Option(names = "--bias", defaultValue = "none", description = "Biases to train: none, all or lora_only "
            + "(default: ${DEFAULT-VALUE}).")
    String bias;

    @Option(names = "--modules-to-save", split = ",", paramLabel = "NAME",
            description = "Modules trained in full and saved with the adapter (comma list).")
    List<String> modulesToSave;

    /** The LoraConfig (task CAUSAL_LM) with these options and the target options. */
    LoraConfig build(TargetOptions targets) {
        LoraConfig.Builder b = LoraConfig.builder().taskType(TaskType.CAUSAL_LM).r(r).loraAlpha(loraAlpha)
                .loraDropout(loraDropout).useRslora(useRslora).useDora(useDora).bias(bias);
        String init = initLoraWeights.strip().toLowerCase(Locale.ROOT);
        if (init.equals("true") || init.equals("false")) {
            b.initLoraWeights(Boolean.parseBoolean(init));
        } else if (LoraConfig.INIT_METHODS.contains(init)) {
            b.initLoraWeights(init);
        } else {
            throw new CliException("--init-lora-weights '" + initLoraWeights + "': expected true, false, "
                    + String.join(", ", LoraConfig.INIT_METHODS));
        }
        if (modulesToSave != null && !modulesToSave.isEmpty()) {
            b.modulesToSave(modulesToSave.toArray(new String[0]));
        }
        targets.apply(b);
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            throw new CliException("invalid LoRA options: " + e.getMessage(), e);
        }
    }
}
