package org.peft4j.models;

/**
 * A quantization method applied while a model loads, as transformers' {@code QuantizationConfigMixin} together with its
 * {@code HfQuantizer}: {@code AutoModelForCausalLM.fromPretrained(dir, quantizationConfig)} builds the model shape-only,
 * lets the config replace the layers it quantizes ({@link #processModelBeforeWeightLoading}), then loads the
 * checkpoint tensor by tensor; the replaced layers take their checkpoint entries themselves (see
 * {@code Module.loadOwnState}), quantizing a float weight or reading a pre-quantized one.
 *
 * <p>Implementations live in the tuner modules (bitsandbytes 4-bit: {@code org.peft4j.qlora.BitsAndBytesConfig} in
 * peft-qlora) and are found for a checkpoint's {@code quantization_config} by {@code quant_method} through a
 * {@link Provider} registered with {@link java.util.ServiceLoader}, so peft-core depends on none of them.
 */
public interface QuantizationConfig {

    /** transformers' {@code quant_method}, e.g. {@code "bitsandbytes"}. */
    String quantMethod();

    /**
     * The {@code quantization_config} object exactly as transformers writes it into config.json ({@code to_dict()}).
     *
     * @return the JSON text of the object (compact)
     */
    String toJson();

    /**
     * transformers' {@code _process_model_before_weight_loading}: replaces, in the shape-only {@code model}, the
     * layers this method quantizes by their quantized form (shape-only too).
     *
     * @param preQuantized whether the checkpoint holds the quantized form (its config.json has this
     *     {@code quantization_config}) rather than float weights to quantize as they are read
     */
    void processModelBeforeWeightLoading(PreTrainedModel model, boolean preQuantized);

    /** transformers' {@code _process_model_after_weight_loading}; nothing by default. */
    default void processModelAfterWeightLoading(PreTrainedModel model) {
    }

    /**
     * Builds a {@link QuantizationConfig} from a config.json's {@code quantization_config} for one {@code quant_method};
     * registered in {@code META-INF/services/org.peft4j.models.QuantizationConfig$Provider}.
     */
    interface Provider {
        /** The {@code quant_method} this provider reads. */
        String quantMethod();

        /**
         * The config for {@code json} (transformers' {@code from_dict}).
         *
         * @param json the JSON text of the {@code quantization_config} object, as in config.json (numbers as written)
         * @param source the config.json path, for messages
         * @throws IllegalArgumentException naming {@code source} and the field when a value is invalid or not
         *     supported
         */
        QuantizationConfig fromJson(String json, String source);
    }
}
