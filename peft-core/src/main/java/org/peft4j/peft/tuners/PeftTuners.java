package org.peft4j.peft.tuners;

import java.util.EnumMap;
import java.util.Map;
import java.util.ServiceLoader;
import org.peft4j.peft.PeftType;

/** The registry of tuners found on the class path ({@link ServiceLoader}). */
public final class PeftTuners {
    private static Map<PeftType, PeftTuner> tuners;

    private PeftTuners() {
    }

    private static synchronized Map<PeftType, PeftTuner> all() {
        if (tuners == null) {
            Map<PeftType, PeftTuner> m = new EnumMap<>(PeftType.class);
            for (PeftTuner t : ServiceLoader.load(PeftTuner.class, PeftTuners.class.getClassLoader())) {
                m.putIfAbsent(t.peftType(), t);
            }
            tuners = m;
        }
        return tuners;
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
