package org.peft4j.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import org.peft4j.lora.LoraConfig;
import org.peft4j.peft.tuners.TunerConfig;

/**
 * A {@code --target-modules} / {@code --exclude-modules} value as PEFT reads {@code target_modules}: a comma list of
 * module names (each matches a module name exactly or as a dotted suffix), {@code all-linear}, or a regular
 * expression that must match the whole module name (PEFT's str form). A value is a regex when {@code regex} is set
 * or when it contains a regex metacharacter other than the dot ({@code * + ? [ ] ( ) { } | ^ $ \}).
 *
 * @param names the list form, or null
 * @param regex the regex form, or null
 */
record TargetSpec(List<String> names, String regex) {
    private static final Pattern METACHARS = Pattern.compile("[*+?\\[\\](){}|^$\\\\]");

    /** Parses {@code value}; null gives null (PEFT's default). */
    static TargetSpec parse(String value, boolean forceRegex, String option) {
        if (value == null) {
            return null;
        }
        String v = value.strip();
        if (v.isEmpty()) {
            throw new CliException(option + ": empty value, expected a comma list of module names, all-linear or a "
                    + "regular expression");
        }
        if (forceRegex || METACHARS.matcher(v).find()) {
            try {
                Pattern.compile(v);
            } catch (PatternSyntaxException e) {
                throw new CliException(option + " '" + v + "': not a valid regular expression: "
                        + e.getDescription() + " near index " + e.getIndex());
            }
            return new TargetSpec(null, v);
        }
        List<String> names = new ArrayList<>();
        for (String part : v.split(",")) {
            if (!part.isBlank()) {
                names.add(part.strip());
            }
        }
        if (names.isEmpty()) {
            throw new CliException(option + " '" + value + "': no module names");
        }
        return new TargetSpec(names, null);
    }

    /** True for {@code all-linear}. */
    boolean isAllLinear() {
        return names != null && names.size() == 1 && TunerConfig.ALL_LINEAR.equalsIgnoreCase(names.get(0));
    }

    /** Sets {@code target_modules} on the builder. */
    void applyTargets(LoraConfig.Builder b) {
        if (regex != null) {
            b.targetModulesRegex(regex);
        } else if (isAllLinear()) {
            b.targetModules(TunerConfig.ALL_LINEAR);
        } else {
            b.targetModules(names);
        }
    }

    /** Sets {@code exclude_modules} on the builder. */
    void applyExcludes(LoraConfig.Builder b) {
        if (regex != null) {
            b.excludeModulesRegex(regex);
        } else {
            b.excludeModules(names.toArray(new String[0]));
        }
    }
}
