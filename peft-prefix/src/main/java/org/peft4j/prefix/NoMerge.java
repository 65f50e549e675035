package org.peft4j.prefix;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.peft4j.models.PreTrainedModel;

/**
 * PEFT 0.21.2's refusal of {@code merge_adapter}, {@code unmerge_adapter}, {@code merge_and_unload} and {@code unload}
 * on a prompt-learning {@code PeftModel}: its {@code base_model} is the transformers model itself (no tuner), so the
 * attribute lookup falls through to it and fails with Python's {@code AttributeError}, e.g. {@code 'LlamaForCausalLM'
 * object has no attribute 'merge_and_unload'}.
 */
final class NoMerge {
    private NoMerge() {
    }

    /** {@code '<architecture>' object has no attribute '<method>'}, as an {@link UnsupportedOperationException}. */
    static UnsupportedOperationException refuse(PreTrainedModel model, String method) {
        return new UnsupportedOperationException("'" + architecture(model) + "' object has no attribute '" + method
                + "'");
    }

    /** The transformers class name: {@code architectures[0]} of the model's config. */
    static String architecture(PreTrainedModel model) {
        JsonObject config = JsonParser.parseString(model.config().toJson()).getAsJsonObject();
        JsonArray arch = config.has("architectures") && config.get("architectures").isJsonArray()
                ? config.getAsJsonArray("architectures") : null;
        return arch != null && !arch.isEmpty() ? arch.get(0).getAsString() : model.getClass().getSimpleName();
    }
}
