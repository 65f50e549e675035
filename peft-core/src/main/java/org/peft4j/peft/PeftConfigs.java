package org.peft4j.peft;

import java.nio.file.Path;
import java.util.Map;
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
     * <p>Error contract: every bad file gives an exception whose message names the file: a
     * {@link org.peft4j.FileAccessException} for a missing or unreadable file; a {@link org.peft4j.ConfigException}
     * for text that is not one strict JSON object (truncated, comments, NaN, trailing text, duplicate keys) and,
     * caused by the {@link IllegalArgumentException} of
     * {@link #fromJson(String, String)}, for a field of the wrong JSON type, a number out of range (never wrapped or saturated), a
     * regular expression that does not compile, a method no tuner on the class path handles, or a value PEFT's
     * validation refuses (with PEFT's message); field errors also name the field and what was expected.
     *
     * @param dirOrFile the adapter folder or its {@code adapter_config.json}
     * @return the config of the file's {@code peft_type}
     * @throws org.peft4j.FileAccessException for a missing or unreadable file
     * @throws org.peft4j.ConfigException for text that is not strict JSON or a bad value, naming the file and the
     *     field
     */
    public static PeftConfig fromPretrained(Path dirOrFile) {
        ConfigJson json = PeftConfig.readJson(dirOrFile);
        try {
            return build(json);
        } catch (IllegalArgumentException e) {
            throw new org.peft4j.ConfigException(Path.of(json.source()), e);
        }
    }

    /**
     * Builds a config from the JSON text of an {@code adapter_config.json} object (parsed strictly, as
     * {@link #fromPretrained} reads the file).
     *
     * @param json the text of one JSON object
     * @param source where it came from, for messages
     * @return the config of its {@code peft_type}
     * @throws IllegalArgumentException naming {@code source} if the text is not one strict JSON object, if
     *     {@code peft_type} is missing or unknown, or if a field has the wrong type or is out of range (naming the
     *     field)
     */
    public static PeftConfig fromJson(String json, String source) {
        return build(ConfigJson.parse(json, source));
    }

    /**
     * Builds a config from its fields as plain Java values (PEFT's {@code PeftConfig.from_peft_type(**kwargs)}):
     * snake_case keys to strings, numbers, booleans, lists, maps or nulls, {@code peft_type} included.
     *
     * @param fields the fields (copied)
     * @param source where they came from, for messages
     * @return the config of its {@code peft_type}
     * @throws IllegalArgumentException naming {@code source} if {@code peft_type} is missing or unknown, or if a
     *     field has the wrong type or is out of range (naming the field)
     */
    public static PeftConfig fromDict(Map<String, ?> fields, String source) {
        return build(ConfigJson.fromMap(fields, source));
    }

    private static PeftConfig build(ConfigJson j) {
        String source = j.source();
        try {
            return PeftTuners.forType(PeftConfig.peftTypeOf(j)).parseConfig(j);
        } catch (IllegalArgumentException e) {
            if (e.getMessage() != null && e.getMessage().startsWith(source)) {
                throw e;
            }
            throw new IllegalArgumentException(source + ": " + e.getMessage(), e);
        }
    }
}
