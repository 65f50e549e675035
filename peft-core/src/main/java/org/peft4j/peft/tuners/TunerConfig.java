package org.peft4j.peft.tuners;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.peft4j.peft.config.ConfigJson;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.peft.config.PeftType;

/**
 * A config for a method that injects layers into named modules (LoRA, IA3, ...): {@code target_modules} (a
 * full-match regex string, a set of names or dotted suffixes, or {@code "all-linear"}), {@code exclude_modules},
 * {@code modules_to_save}, {@code layers_to_transform} and {@code layers_pattern}.
 */
public abstract class TunerConfig extends PeftConfig {
    /** The shorthand that targets every linear layer except the output embedding. */
    public static final String ALL_LINEAR = "all-linear";

    /** A String (regex) or a Set of names; null means the model type's defaults. */
    protected Object targetModules;
    protected Object excludeModules;
    protected List<String> modulesToSave;
    protected List<Integer> layersToTransform;
    protected List<String> layersPattern;
    /** Whether layers_to_transform / layers_pattern were given as a bare int / string (kept for writing back). */
    protected boolean layersToTransformScalar;
    protected boolean layersPatternScalar;

    protected TunerConfig(PeftType type) {
        super(type);
    }

    /** {@code target_modules}: a String regex, a Set of names, or null. */
    public Object targetModules() {
        return targetModules;
    }

    /** Sets {@code target_modules} (a String regex, a Collection of names, or null). */
    public void setTargetModules(Object v) {
        this.targetModules = normalizeTargets(v);
    }

    /** {@code exclude_modules}: a String regex, a Set of names, or null. */
    public Object excludeModules() {
        return excludeModules;
    }

    /** {@code modules_to_save}, or null. */
    public List<String> modulesToSave() {
        return modulesToSave;
    }

    /**
     * Sets {@code modules_to_save}: modules trained and saved in full besides the adapter.
     *
     * @param v module names (exact or suffix), or null
     */
    public void setModulesToSave(List<String> v) {
        this.modulesToSave = v == null ? null : new ArrayList<>(v);
    }

    /** {@code layers_to_transform}, or null. */
    public List<Integer> layersToTransform() {
        return layersToTransform;
    }

    /** {@code layers_pattern}, or null. */
    public List<String> layersPattern() {
        return layersPattern;
    }

    /** A String stays a String; any collection becomes an insertion-ordered set (PEFT turns lists into sets). */
    protected static Object normalizeTargets(Object v) {
        if (v == null || v instanceof String) {
            return v;
        }
        if (v instanceof Collection) {
            Set<String> s = new LinkedHashSet<>();
            for (Object o : (Collection<?>) v) {
                s.add(String.valueOf(o));
            }
            return s;
        }
        throw new IllegalArgumentException("target modules must be a string or a list of strings, got " + v);
    }

    /** Checks the shared rules, with PEFT's messages. */
    protected void validateTargeting() {
        if (targetModules instanceof String && layersToTransform != null) {
            throw new IllegalArgumentException("`layers_to_transform` cannot be used when `target_modules` is a str.");
        }
        if (targetModules instanceof String && layersPattern != null) {
            throw new IllegalArgumentException("`layers_pattern` cannot be used when `target_modules` is a str.");
        }
        if (layersPattern != null && layersToTransform == null) {
            throw new IllegalArgumentException(
                    "When `layers_pattern` is specified, `layers_to_transform` must also be specified. ");
        }
    }

    /**
     * Reads the targeting fields. Every regular expression is compiled here, the way {@link TargetMatcher} will use
     * it, so that a bad one is refused by name when the file is loaded rather than when the adapter is injected.
     *
     * @throws IllegalArgumentException naming the source and the field for a wrong type, a negative layer index or
     *     a regular expression that does not compile
     */
    protected void readTargeting(ConfigJson j) {
        targetModules = readStringOrSet(j, "target_modules");
        excludeModules = readStringOrSet(j, "exclude_modules");
        modulesToSave = j.strings("modules_to_save");
        if (modulesToSave != null) {
            for (String m : modulesToSave) {
                j.checkRegex("modules_to_save", m, "(^|.*\\.)%s($|\\..*)");
            }
        }
        if (j.has("layers_to_transform")) {
            layersToTransformScalar = isScalar(j.value("layers_to_transform"));
        }
        layersToTransform = j.integers("layers_to_transform", 0, Integer.MAX_VALUE);
        if (j.has("layers_pattern") && isScalar(j.value("layers_pattern"))) {
            layersPatternScalar = true;
            layersPattern = new ArrayList<>(List.of(j.string("layers_pattern", null)));
        } else {
            layersPattern = j.strings("layers_pattern");
        }
        if (layersPattern != null) {
            for (String p : layersPattern) {
                j.checkRegex("layers_pattern", p, "(?:^|.*?\\.)%s\\.(?<idx>\\d+)\\.");
            }
        }
    }

    /** Whether a plain JSON value is a string, number or boolean (not a list or an object). */
    private static boolean isScalar(Object v) {
        return v instanceof String || v instanceof Number || v instanceof Boolean;
    }

    private static Object readStringOrSet(ConfigJson j, String key) {
        if (!j.has(key)) {
            j.value(key);
            return null;
        }
        if (isScalar(j.value(key))) {
            String regex = j.string(key, null);
            j.checkRegex(key, regex, "%s");
            return regex;
        }
        return new LinkedHashSet<>(j.strings(key));
    }

    protected void writeTargeting(Map<String, Object> f) {
        f.put("target_modules", targetModules);
        f.put("exclude_modules", excludeModules);
        f.put("modules_to_save", modulesToSave);
        f.put("layers_to_transform", layersToTransform != null && layersToTransformScalar && layersToTransform.size() == 1
                ? layersToTransform.get(0) : layersToTransform);
        f.put("layers_pattern", layersPattern != null && layersPatternScalar && layersPattern.size() == 1
                ? layersPattern.get(0) : layersPattern);
    }

    protected void copyTargetingTo(TunerConfig c) {
        c.targetModules = targetModules instanceof Set ? new LinkedHashSet<>((Set<?>) targetModules) : targetModules;
        c.excludeModules = excludeModules instanceof Set ? new LinkedHashSet<>((Set<?>) excludeModules)
                : excludeModules;
        c.modulesToSave = modulesToSave == null ? null : new ArrayList<>(modulesToSave);
        c.layersToTransform = layersToTransform == null ? null : new ArrayList<>(layersToTransform);
        c.layersPattern = layersPattern == null ? null : new ArrayList<>(layersPattern);
        c.layersToTransformScalar = layersToTransformScalar;
        c.layersPatternScalar = layersPatternScalar;
        copyCommonTo(c);
    }
}
