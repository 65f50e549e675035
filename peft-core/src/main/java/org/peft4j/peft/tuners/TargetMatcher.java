package org.peft4j.peft.tuners;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * PEFT's rules for whether a module name is targeted ({@code check_target_module_exists}), in PEFT's order:
 * exclusions, the {@code modules_to_save} guard, then {@code target_modules} (a string is a full-match regex; a set
 * matches a name exactly or as a dotted suffix) with the {@code layers_to_transform} filter.
 */
public final class TargetMatcher {
    /** The outcome for one module name. */
    public enum Result {
        /** The module is a target. */
        MATCHED,
        /** The module matches {@code exclude_modules} or lies inside a {@code modules_to_save} module. */
        EXCLUDED,
        /** The module is not a target. */
        NOT_MATCHED
    }

    private static final Pattern FIRST_LAYER_INDEX = Pattern.compile(".*?\\.[^.]*\\.(\\d+)\\.");

    private TargetMatcher() {
    }

    /** Matches {@code key} (a dotted name of the inner model) against the config. */
    public static Result check(TunerConfig cfg, String key) {
        Object ex = cfg.excludeModules();
        if (ex instanceof String) {
            if (Pattern.compile((String) ex).matcher(key).matches()) {
                return Result.EXCLUDED;
            }
        } else if (ex instanceof Collection && matchesNameOrSuffix((Collection<?>) ex, key)) {
            return Result.EXCLUDED;
        }
        if (cfg.modulesToSave() != null) {
            for (String m : cfg.modulesToSave()) {
                if (Pattern.compile("(^|.*\\.)" + m + "($|\\..*)").matcher(key).lookingAt()) {
                    return Result.EXCLUDED;
                }
            }
        }
        Object t = cfg.targetModules();
        if (t instanceof String) {
            return Pattern.compile((String) t).matcher(key).matches() ? Result.MATCHED : Result.NOT_MATCHED;
        }
        if (!(t instanceof Collection)) {
            return Result.NOT_MATCHED;
        }
        Collection<?> targets = (Collection<?>) t;
        if (targets.contains(key)) {
            return Result.MATCHED;
        }
        boolean found = false;
        for (Object o : targets) {
            if (key.endsWith("." + o)) {
                found = true;
                break;
            }
        }
        List<Integer> layers = cfg.layersToTransform();
        if (found && layers != null && !layers.isEmpty()) {
            Integer idx = layerIndex(key, cfg.layersPattern());
            found = idx != null && layers.contains(idx);
        }
        return found ? Result.MATCHED : Result.NOT_MATCHED;
    }

    /**
     * The layer index in {@code key}: the first numbered segment, or the digits right after the first
     * {@code layers_pattern} (a regex) that occurs at the start of the name or after a dot, as PEFT's
     * {@code re.match(rf"(?:^|.*?\.){pattern}\.(?P<idx>\d+)\.", key)}.
     */
    static Integer layerIndex(String key, List<String> layersPattern) {
        if (layersPattern == null || layersPattern.isEmpty()) {
            Matcher m = FIRST_LAYER_INDEX.matcher(key);
            return m.lookingAt() ? Integer.valueOf(m.group(1)) : null;
        }
        for (String p : layersPattern) {
            Matcher m = Pattern.compile("(?:^|.*?\\.)" + p + "\\.(?<idx>\\d+)\\.").matcher(key);
            if (m.lookingAt()) {
                return Integer.valueOf(m.group("idx"));
            }
        }
        return null;
    }

    /** {@code key == name or key.endswith("." + name)} for any name. */
    public static boolean matchesNameOrSuffix(Collection<?> names, String key) {
        for (Object o : names) {
            String n = String.valueOf(o);
            if (key.equals(n) || key.endsWith("." + n)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The first pattern key (insertion order) that matches {@code key} as a dotted-boundary suffix regex
     * ({@code get_pattern_key}), or null.
     */
    public static String patternKey(Map<String, ?> patterns, String key) {
        for (String k : patterns.keySet()) {
            if (Pattern.compile("(.*\\.)?(" + k + ")$").matcher(key).lookingAt()) {
                return k;
            }
        }
        return null;
    }
}
