package org.peft4j.peft;

import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Path;
import org.peft4j.peft.config.ConfigJson;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.peft.tuners.PeftTuners;

/**
 * Loads a saved adapter config as the config class of its method ({@code PeftConfig.from_pretrained}): reads
 * {@code peft_type} and hands the object to the tuner registered for it ({@link PeftTuners}), so a new method needs
 * no change here. Thread-safe.
 */
public final class PeftConfigs {
    private PeftConfigs() {
    }

    /**
     * Reads {@code adapter_config.json} from a directory (or the file itself) and builds the config of its
     * {@code peft_type} through the tuner registry.
     *
     * <p>Error contract: every bad file gives an exception whose message names the file: an {@link IOException} for
     * a missing file or text that is not one strict JSON object (truncated, comments, NaN, trailing text, duplicate
     * keys); a {@link org.peft4j.ConfigException}, caused by the {@link IllegalArgumentException} of
     * {@link #fromJson}, for a field of the wrong JSON type, a number out of range (never wrapped or saturated), a
     * regular expression that does not compile, a method no tuner on the class path handles, or a value PEFT's
     * validation refuses (with PEFT's message); field errors also name the field and what was expected.
     *
     * @param dirOrFile the adapter folder or its {@code adapter_config.json}
     * @return the config of the file's {@code peft_type}
     * @throws IOException for a missing or unreadable file, or one that is not strict JSON
     * @throws org.peft4j.ConfigException for a bad value, naming the file and the field
     */
    public static PeftConfig fromPretrained(Path dirOrFile) throws IOException {
        ConfigJson json = PeftConfig.readJson(dirOrFile);
        try {
            return fromJson(json.object(), json.source());
        } catch (IllegalArgumentException e) {
            throw new org.peft4j.ConfigException(Path.of(json.source()), e);
        }
    }

    /**
     * Builds a config from its JSON object.
     *
     * @throws IllegalArgumentException naming {@code source} if {@code peft_type} is missing or unknown, or a field
     *     has the wrong type or is out of range (naming the field)
     */
    public static PeftConfig fromJson(JsonObject o, String source) {
        try {
            return PeftTuners.forType(PeftConfig.peftTypeOf(o, source)).parseConfig(new ConfigJson(o, source));
        } catch (IllegalArgumentException e) {
            if (e.getMessage() != null && e.getMessage().startsWith(source)) {
                throw e;
            }
            throw new IllegalArgumentException(source + ": " + e.getMessage(), e);
        }
    }
}
