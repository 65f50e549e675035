package org.peft4j.lora;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.peft4j.peft.tuners.TunerConfig;

/**
 * PEFT's {@code _find_minimal_target_modules}: when 20 or more module names are targeted (e.g. after
 * {@code all-linear}), they are replaced by the shortest dotted suffixes that select exactly the same modules.
 */
final class MinimalTargets {
    private MinimalTargets() {
    }

    static Set<String> find(TunerConfig cfg, Collection<String> moduleNames) {
        Set<String> targets = new LinkedHashSet<>();
        for (Object o : (Collection<?>) cfg.targetModules()) {
            targets.add(String.valueOf(o));
        }
        List<String> others = new ArrayList<>();
        for (String n : moduleNames) {
            boolean hit = false;
            for (String t : targets) {
                if (n.equals(t) || n.endsWith("." + t)) {
                    hit = true;
                    break;
                }
            }
            if (!hit && !n.isEmpty()) {
                others.add(n);
            }
        }
        Set<String> otherSuffixes = new HashSet<>();
        for (String o : others) {
            otherSuffixes.addAll(suffixes(o));
        }
        // sorted by the suffix lists, as Python's sorted(items, key=lambda t: t[1])
        TreeMap<List<String>, String> byKey = new TreeMap<>((a, b) -> {
            for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
                int c = a.get(i).compareTo(b.get(i));
                if (c != 0) {
                    return c;
                }
            }
            return Integer.compare(a.size(), b.size());
        });
        for (String t : targets) {
            byKey.put(suffixes(t), t);
        }
        Set<String> required = new LinkedHashSet<>();
        for (Map.Entry<List<String>, String> e : byKey.entrySet()) {
            for (String suffix : e.getKey()) {
                if (required.contains(suffix) || otherSuffixes.contains(suffix)) {
                    continue;
                }
                boolean covered = false;
                for (String req : required) {
                    if (e.getValue().endsWith("." + req)) {
                        covered = true;
                        break;
                    }
                }
                if (!covered) {
                    required.add(suffix);
                    break;
                }
            }
        }
        return required.isEmpty() ? targets : required;
    }

    /** Dotted suffixes, shortest first: a.b.c gives c, b.c, a.b.c. */
    private static List<String> suffixes(String s) {
        String[] parts = s.split("\\.");
        List<String> out = new ArrayList<>();
        for (int i = parts.length - 1; i >= 0; i--) {
            out.add(String.join(".", java.util.Arrays.copyOfRange(parts, i, parts.length)));
        }
        return out;
    }
}
