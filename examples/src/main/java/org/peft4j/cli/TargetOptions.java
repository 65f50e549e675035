package org.peft4j.cli;

import java.util.List;
import org.peft4j.lora.LoraConfig;
import picocli.CommandLine.Option;

/** The options that choose which modules get an adapter, named after LoraConfig's fields (finetune, inspect). */
public final class TargetOptions {
    @Option(names = "--target-modules", paramLabel = "NAMES|REGEX",
            description = "Modules to adapt: a comma list of names (exact or dotted suffix, e.g. q_proj,v_proj), "
                + "all-linear, or a regular expression matching whole module names. Default: PEFT's default for "
                + "the model type (q_proj,v_proj for Llama, Mistral, Qwen2; c_attn for GPT-2).")
    String targetModules;

    @Option(names = "--regex", description = "Read --target-modules and --exclude-modules as regular expressions "
            + "(values containing * + ? [ ] ( ) { } | ^ $ or \\ always are).")
    boolean regex;

    @Option(names = "--exclude-modules", paramLabel = "NAMES|REGEX",
            description = "Modules never adapted: a comma list of names or a regular expression.")
    String excludeModules;

    @Option(names = "--layers-to-transform", split = ",", paramLabel = "N",
            description = "Only adapt these layer indices (comma list).")
    List<Integer> layersToTransform;

    @Option(names = "--layers-pattern", split = ",", paramLabel = "NAME",
            description = "Name of the layer list that --layers-to-transform indexes (e.g. layers, h).")
    List<String> layersPattern;

    /** The parsed {@code --target-modules}, or null for PEFT's default. */
    TargetSpec targets() {
        return TargetSpec.parse(targetModules, regex, "--target-modules");
    }

    /** Sets target_modules, exclude_modules, layers_to_transform and layers_pattern on the builder. */
    void apply(LoraConfig.Builder b) {
        TargetSpec t = targets();
        if (t != null) {
            t.applyTargets(b);
        }
        TargetSpec ex = TargetSpec.parse(excludeModules, regex, "--exclude-modules");
        if (ex != null) {
            ex.applyExcludes(b);
        }
        if (layersToTransform != null && !layersToTransform.isEmpty()) {
            b.layersToTransform(layersToTransform.toArray(new Integer[0]));
        }
        if (layersPattern != null && !layersPattern.isEmpty()) {
            b.layersPattern(layersPattern.toArray(new String[0]));
        }
    }
}
