package org.peft4j.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.peft4j.graph.Parameter;
import org.peft4j.lora.LoraConfig;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.nn.Module;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.peft.tuners.PromptLearningConfig;
import org.peft4j.peft.tuners.TargetMatcher;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code peft4j inspect}: the module tree of a model built from its {@code config.json} alone (shape-only, no
 * weights read), each module with its type and parameter shapes, and which modules a {@code target_modules}
 * setting selects under PEFT's matching rules ({@link TargetSelection}). Without {@code --target-modules} the
 * model type's PEFT default is shown. Selecting nothing fails (exit 1) with PEFT's message and the module names that
 * could be targeted. With {@code --adapter} a saved adapter is described: a LoRA adapter's own
 * {@code target_modules} / {@code r} select and count the modules; a prompt-learning adapter (prefix tuning, prompt
 * tuning, P-tuning) shows its method, {@code num_virtual_tokens}, {@code token_dim}, {@code num_layers}, the
 * trainable parameters of {@code get_peft_model} with its config and the saved tensors.
 */
@Command(name = "inspect", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        sortOptions = false,
        description = "List a model's modules (from config.json only) and mark those that --target-modules selects "
            + "under PEFT's rules.")
public final class InspectCommand extends CliCommand {
    @Option(names = "--model", paramLabel = "DIR|FILE", description = "A model folder or its config.json "
            + "(default: the embedded " + ModelPaths.DEFAULT_MODEL + ").")
    Path model;

    @Option(names = "--adapter", paramLabel = "DIR", description = "A saved adapter folder "
            + "(adapter_config.json): describe it; a LoRA adapter's target_modules and r replace --target-modules "
            + "and --r.")
    Path adapter;

    @Mixin
    TargetOptions targets;

    @Option(names = "--r", defaultValue = "8", description = "Rank used to count the LoRA parameters of the "
            + "selection (default: ${DEFAULT-VALUE}).")
    int r;

    @Override
    protected void run() throws Exception {
        if (r <= 0) {
            throw new CliException("--r must be > 0, got " + r);
        }
        Path config = configFile(ModelPaths.model(model));
        PreTrainedModel m = AutoModelForCausalLM.fromConfig(ModelConfig.load(config));
        PeftConfig saved = adapter == null ? null : AdapterInfo.load(adapter);
        LoraConfig cfg;
        if (saved instanceof LoraConfig lora) {
            cfg = lora;
        } else {
            LoraConfig.Builder b = LoraConfig.builder().r(r);
            targets.apply(b);
            try {
                cfg = b.build();
            } catch (IllegalArgumentException e) {
                throw new CliException("invalid target options: " + e.getMessage(), e);
            }
        }
        out().printf(Locale.ROOT, "model: %s (%s, %d layers, %,d parameters)%n", config, m.config().modelType(),
                m.numLayers(), m.numParameters());
        if (saved != null) {
            AdapterInfo.print(out(), adapter, saved);
        }
        if (saved instanceof PromptLearningConfig pl) {
            AdapterInfo.printPromptLearning(out(), m, pl);
            return;
        }
        int rank = saved instanceof LoraConfig lora ? lora.r() : r;
        TargetSelection sel;
        try {
            sel = TargetSelection.select(m, cfg);
        } catch (CliException e) {
            printModules(m, Map.of());
            out().flush();
            throw new CliException(e.getMessage() + " Module names that can be targeted: "
                    + String.join(", ", TargetSelection.candidateNames(m)), e);
        }
        printModules(m, sel.results());
        out().println("target_modules: " + TargetSelection.describe(cfg.targetModules(), sel.targetModules(),
                sel.selected()));
        out().println(sel.selected().size() + " modules selected");
        long lora = sel.loraParameters(m, rank);
        out().printf(Locale.ROOT, "LoRA r=%d adds %,d trainable parameters (%.4f%% of %,d)%n", rank, lora,
                100.0 * lora / (m.numParameters() + lora), m.numParameters() + lora);
    }

    /** config.json in a folder, or the file itself. */
    private static Path configFile(Path p) {
        if (Files.isDirectory(p)) {
            ModelPaths.requireModel(p, "--model", false, false);
            return p.resolve("config.json");
        }
        return ModelPaths.requireFile(p, "--model", "a model folder or its config.json");
    }

    /** One line per module: mark (* selected, x excluded), name, type, direct parameter shapes. */
    private void printModules(PreTrainedModel m, Map<String, TargetMatcher.Result> results) {
        Map<String, Module> modules = m.namedModules();
        int width = 8;
        for (String k : modules.keySet()) {
            width = Math.max(width, k.length());
        }
        int typeWidth = 8;
        for (Module mod : modules.values()) {
            typeWidth = Math.max(typeWidth, mod.typeName().length());
        }
        String format = "%s %-" + width + "s  %-" + typeWidth + "s  %s";
        out().println(String.format(format, " ", "module", "type", "parameters"));
        for (Map.Entry<String, Module> e : modules.entrySet()) {
            TargetMatcher.Result res = results.get(e.getKey());
            String mark = res == TargetMatcher.Result.MATCHED ? "*" : res == TargetMatcher.Result.EXCLUDED ? "x" : " ";
            out().println(String.format(format, mark, e.getKey().isEmpty() ? "(root)" : e.getKey(),
                    e.getValue().typeName(), shapes(e.getValue())).stripTrailing());
        }
        out().println("(* selected, x excluded by --exclude-modules)");
    }

    private static String shapes(Module m) {
        List<String> parts = new ArrayList<>();
        for (Map.Entry<String, Parameter> p : m.directParameters().entrySet()) {
            parts.add(p.getKey() + " " + java.util.Arrays.toString(p.getValue().shape()));
        }
        return String.join(", ", parts);
    }
}
