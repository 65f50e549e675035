package org.peft4j.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.peft4j.lora.LoraConfig;
import org.peft4j.lora.LoraModel;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.nn.Conv1D;
import org.peft4j.nn.Embedding;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.peft.Peft;
import org.peft4j.peft.tuners.TargetMatcher;
import org.peft4j.peft.tuners.TunerConfig;

/**
 * Which modules a LoRA config selects, without creating adapters: PEFT's target resolution as {@link LoraModel}
 * does it (the model type's default targets, {@code all-linear} = every Linear / Conv1D but the output embedding)
 * and PEFT's walk over the module tree with {@link TargetMatcher} (children of a selected module are not visited).
 * When nothing is selected, or a selected module cannot take LoRA, the message is the one PEFT's injection gives
 * (obtained by running the injection itself).
 *
 * @param targetModules the resolved {@code target_modules} (a set of names or a regex)
 * @param results every visited module's outcome, in tree order
 * @param selected the selected module names, in tree order
 */
record TargetSelection(Object targetModules, Map<String, TargetMatcher.Result> results, List<String> selected) {

    /** How many modules {@code cfg} selects in {@code model}; throws {@link CliException} with PEFT's error. */
    static TargetSelection select(PreTrainedModel model, LoraConfig cfg) {
        LoraConfig resolved = cfg.copy();
        resolved.setTargetModules(resolveTargets(model, cfg.targetModules()));
        Map<String, TargetMatcher.Result> results = new LinkedHashMap<>();
        List<String> selected = new ArrayList<>();
        for (Map.Entry<String, Module> e : model.namedModules().entrySet()) {
            String key = e.getKey();
            if (key.isEmpty() || insideAny(selected, key)) {
                continue;
            }
            TargetMatcher.Result r = TargetMatcher.check(resolved, key);
            results.put(key, r);
            if (r == TargetMatcher.Result.MATCHED) {
                if (!supported(e.getValue())) {
                    throw new CliException(pefts(model, cfg, "Target module " + e.getValue().typeName() + " ("
                            + key + ") is not supported. Currently, only the following modules are supported: "
                            + "`Linear`, `Embedding`, `Conv1D`."));
                }
                selected.add(key);
            }
        }
        if (selected.isEmpty()) {
            throw new CliException(pefts(model, cfg, "Target modules " + pySet(resolved.targetModules())
                    + " not found in the base model. Please check the target modules and try again."));
        }
        return new TargetSelection(resolved.targetModules(), results, selected);
    }

    /** PEFT's resolution of a null target list and of {@code all-linear} (as {@code LoraModel} prepares configs). */
    static Object resolveTargets(PreTrainedModel model, Object targets) {
        if (targets == null) {
            List<String> d = LoraModel.DEFAULT_TARGET_MODULES.get(model.config().modelType());
            if (d == null) {
                throw new CliException("Please specify `target_modules` or `target_parameters`in `peft_config` "
                        + "(no default target modules for model type '" + model.config().modelType()
                        + "'; pass --target-modules)");
            }
            return new LinkedHashSet<>(d);
        }
        if (targets instanceof String s && TunerConfig.ALL_LINEAR.equalsIgnoreCase(s)) {
            Set<String> names = new LinkedHashSet<>();
            String out = model.outputEmbeddingsName();
            for (Map.Entry<String, Module> e : model.namedModules().entrySet()) {
                Module m = e.getValue();
                if ((m instanceof Linear || m instanceof Conv1D) && !e.getKey().equals(out)) {
                    names.add(e.getKey());
                }
            }
            return names;
        }
        return targets;
    }

    /** The distinct last name segments of the modules LoRA can adapt (Linear, Conv1D, Embedding), in tree order. */
    static List<String> candidateNames(PreTrainedModel model) {
        Set<String> names = new LinkedHashSet<>();
        for (Map.Entry<String, Module> e : model.namedModules().entrySet()) {
            if (supported(e.getValue()) && !e.getKey().isEmpty()) {
                names.add(e.getKey().substring(e.getKey().lastIndexOf('.') + 1));
            }
        }
        return new ArrayList<>(names);
    }

    /** The distinct last name segments of {@code keys} ({@code q_proj, v_proj}), in order. */
    static List<String> leafNames(Iterable<String> keys) {
        Set<String> names = new LinkedHashSet<>();
        for (String k : keys) {
            names.add(k.substring(k.lastIndexOf('.') + 1));
        }
        return new ArrayList<>(names);
    }

    /**
     * {@code target_modules} as the user gave it ({@code given}: a set, a regex, {@code all-linear}, or null for the
     * model type's default, then shown resolved) followed by the modules it selected, e.g.
     * {@code {'q_proj', 'v_proj'} (4 modules: q_proj, v_proj)}.
     */
    static String describe(Object given, Object resolved, List<String> selected) {
        String what = given == null ? pySet(resolved) + " [PEFT's default]"
                : given instanceof String s && TunerConfig.ALL_LINEAR.equalsIgnoreCase(s) ? TunerConfig.ALL_LINEAR
                : pySet(given);
        return what + " (" + selected.size() + " modules: " + String.join(", ", leafNames(selected)) + ")";
    }

    /** LoRA parameters the selection would add at rank {@code r}: r * (in + out) per selected module. */
    long loraParameters(PreTrainedModel model, int r) {
        long n = 0;
        for (String key : selected) {
            Module m = model.getSubmodule(key);
            long[] shape = m.parameter("weight").shape();
            n += (long) r * (shape[0] + shape[1]);
        }
        return n;
    }

    static boolean supported(Module m) {
        return m instanceof Linear || m instanceof Conv1D || m instanceof Embedding;
    }

    static String pySet(Object v) {
        return org.peft4j.util.PyRepr.set(v);
    }

    private static boolean insideAny(List<String> prefixes, String key) {
        for (String p : prefixes) {
            if (key.startsWith(p + ".")) {
                return true;
            }
        }
        return false;
    }

    /** The message of PEFT's own injection of {@code cfg} into {@code model}, else {@code fallback}. */
    private static String pefts(PreTrainedModel model, LoraConfig cfg, String fallback) {
        try {
            Peft.getPeftModel(model, cfg.copy());
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
        return fallback;
    }
}
