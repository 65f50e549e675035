package org.peft4j.models.auto;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;
import org.peft4j.internal.PlainJson;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.QuantizationConfig;

/**
 * transformers' {@code AutoQuantizationConfig.from_dict}: the {@link QuantizationConfig} for a config.json's
 * {@code quantization_config}, from the {@link QuantizationConfig.Provider} registered for its {@code quant_method}.
 */
final class QuantizationConfigs {
    private QuantizationConfigs() {
    }

    /**
     * The config's {@code quantization_config}, or null when it has none.
     *
     * @throws IllegalArgumentException naming the config file for a {@code quantization_config} that is not an
     *     object, has no {@code quant_method}, names one no provider reads (listing those that are), or that the
     *     provider refuses
     */
    static QuantizationConfig fromModelConfig(ModelConfig config) {
        if (config.getMap("quantization_config") == null) {
            return null;
        }
        JsonObject q = PlainJson.parseTrusted(config.getJson("quantization_config")).getAsJsonObject();
        JsonElement m = q.get("quant_method");
        String method;
        if (isTrue(q, "load_in_4bit") || isTrue(q, "load_in_8bit")) {
            method = "bitsandbytes";
        } else if (m == null || m.isJsonNull()) {
            throw new IllegalArgumentException(config.source() + ": quantization_config: The model's quantization "
                    + "config from the arguments has no `quant_method` attribute. Make sure that the model has been "
                    + "correctly quantized");
        } else if (!m.isJsonPrimitive() || !m.getAsJsonPrimitive().isString()) {
            throw new IllegalArgumentException(config.source() + ": quantization_config.quant_method: expected a "
                    + "string, got " + m);
        } else {
            method = m.getAsString();
        }
        List<String> known = new ArrayList<>();
        for (QuantizationConfig.Provider p : ServiceLoader.load(QuantizationConfig.Provider.class)) {
            if (p.quantMethod().equals(method)) {
                return p.fromJson(q.toString(), config.source());
            }
            known.add(p.quantMethod());
        }
        throw new IllegalArgumentException(config.source() + ": quantization_config: Unknown quantization type, got "
                + method + " - supported types are: " + known + (known.contains("bitsandbytes") ? ""
                : " (bitsandbytes 4-bit checkpoints need peft-qlora on the classpath)"));
    }

    private static boolean isTrue(JsonObject o, String key) {
        JsonElement e = o.get(key);
        return e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isBoolean() && e.getAsBoolean();
    }
}
