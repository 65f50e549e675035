package org.peft4j.peft.tuners;

/**
 * How PEFT names adapter weights in memory and in files: in memory a parameter carries its adapter's name
 * ({@code q_proj.lora_A.default.weight}), in a saved file it does not ({@code q_proj.lora_A.weight}). Shared by the
 * tuner bases; methods with other rules override {@code toSavedKey} / {@code toMemoryKey}.
 */
public final class AdapterKeys {
    private AdapterKeys() {
    }

    /**
     * The saved form of an in-memory key: the last {@code .<name>} segment removed (
     * {@code a.lora_A.default.weight -> a.lora_A.weight}, {@code a.lora_magnitude_vector.default ->
     * a.lora_magnitude_vector}); other keys unchanged.
     */
    public static String removeAdapterName(String key, String name) {
        if (key.endsWith("." + name)) {
            return key.substring(0, key.length() - name.length() - 1);
        }
        int i = key.lastIndexOf("." + name + ".");
        if (i >= 0) {
            return key.substring(0, i) + key.substring(i + name.length() + 1);
        }
        return key;
    }
}
