package org.peft4j.peft.tuners;

import java.util.EnumMap;
import java.util.Map;
import java.util.ServiceLoader;
import org.peft4j.peft.config.PeftType;

/**
 * The registry of tuners found on the class path ({@link ServiceLoader}): one per {@code peft_type}. Two tuners that
 * claim the same type are refused with an error naming both, rather than one of them winning by class-path order.
 * Thread-safe.
 */
public final class PeftTuners {
    private static Map<PeftType, PeftTuner> tuners;

    private PeftTuners() {
    }

    private static synchronized Map<PeftType, PeftTuner> all() {
        if (tuners == null) {
            tuners = index(ServiceLoader.load(PeftTuner.class, PeftTuners.class.getClassLoader()));
        }
        return tuners;
    }

    /**
     * The tuners by type.
     *
     * @throws IllegalStateException if two tuners claim the same {@code peft_type}
     */
    static Map<PeftType, PeftTuner> index(Iterable<PeftTuner> found) {
        Map<PeftType, PeftTuner> m = new EnumMap<>(PeftType.class);
        for (PeftTuner t : found) {
            PeftTuner other = m.putIfAbsent(t.peftType(), t);
            if (other != null) {
                throw new IllegalStateException("Two tuners on the class path are registered for peft_type "
                        + t.peftType() + ": " + other.getClass().getName() + " and " + t.getClass().getName()
                        + " (META-INF/services/" + PeftTuner.class.getName() + "); keep one of them");
            }
        }
        return m;
    }

    /**
     * The tuner for {@code type}.
     *
     * @throws IllegalArgumentException if no module on the class path provides it
     */
    public static PeftTuner forType(PeftType type) {
        PeftTuner t = all().get(type);
        if (t == null) {
            throw new IllegalArgumentException("No tuner for peft_type " + type + " on the class path (found: "
                    + all().keySet() + "). Add the module that provides it, e.g. peft4j's peft-lora for LORA.");
        }
        return t;
    }

    /** Whether a tuner for {@code type} is on the class path. */
    public static boolean has(PeftType type) {
        return all().containsKey(type);
    }
}
