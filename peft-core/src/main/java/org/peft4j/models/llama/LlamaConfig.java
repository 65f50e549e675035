package org.peft4j.models.llama;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import org.peft4j.internal.PlainJson;
import org.peft4j.models.DecoderConfig;
import org.peft4j.models.ModelConfig;

/**
 * Typed view of a Llama-family config.json ({@code llama}, {@code mistral}, {@code qwen2}, {@code qwen3}). Reads the
 * rope settings
 * from {@code rope_theta}/{@code rope_scaling} or from the newer {@code rope_parameters}. Qwen3 adds per-head
 * {@code q_norm} / {@code k_norm}, defaults {@code head_dim} to 128 and puts {@code attention_bias} on all four
 * projections.
 */
public final class LlamaConfig implements DecoderConfig {
    /** The model types this family implements. */
    public static final Set<String> MODEL_TYPES = Set.of("llama", "mistral", "qwen2", "qwen3");

    final ModelConfig raw;
    final String modelType;
    final long vocabSize;
    /** {@code pad_token_id}: the embedding's {@code padding_idx} (no gradient), or null. */
    final Long padTokenId;
    final long hiddenSize;
    final long intermediateSize;
    final int numLayers;
    final int numHeads;
    final int numKvHeads;
    final long headDim;
    final double rmsNormEps;
    final boolean attentionBias;
    final boolean qkvBias;
    final boolean mlpBias;
    final boolean tieWordEmbeddings;
    /** Qwen3: RMSNorm over each head of q and k before the rotary embedding. */
    final boolean qkNorm;
    final String hiddenAct;
    final double attentionDropout;
    final RopeSettings rope;
    /** The attention window of sliding layers, or null (transformers' {@code config.sliding_window}). */
    final Long slidingWindow;
    final List<String> layerTypes;

    /** A layer type of {@code layer_types}: attention over every earlier position. */
    public static final String FULL_ATTENTION = "full_attention";
    /** A layer type of {@code layer_types}: attention over the last {@code sliding_window} positions. */
    public static final String SLIDING_ATTENTION = "sliding_attention";

    /**
     * Reads and validates a Llama-family config (transformers' {@code LlamaConfig} defaults for absent fields).
     *
     * @param c the parsed config.json
     * @throws IllegalArgumentException naming the file and the field for a missing, mistyped or out-of-range value
     */
    public LlamaConfig(ModelConfig c) {
        this.raw = c;
        this.modelType = c.modelType();
        if (!MODEL_TYPES.contains(modelType)) {
            throw new IllegalArgumentException(c.source() + ": model_type '" + modelType + "' is not a Llama-family type "
                    + MODEL_TYPES);
        }
        this.vocabSize = c.getInt("vocab_size", 1, Integer.MAX_VALUE);
        this.padTokenId = c.has("pad_token_id") ? c.getLong("pad_token_id", -vocabSize, vocabSize - 1) : null;
        this.hiddenSize = c.getInt("hidden_size", 1, Integer.MAX_VALUE);
        this.intermediateSize = c.getInt("intermediate_size", 1, Integer.MAX_VALUE);
        this.numLayers = c.getInt("num_hidden_layers", 0, Integer.MAX_VALUE);
        this.numHeads = c.getInt("num_attention_heads", 1, Integer.MAX_VALUE);
        this.numKvHeads = c.getInt("num_key_value_heads", numHeads, 1, Integer.MAX_VALUE);
        boolean qwen3 = modelType.equals("qwen3");
        this.headDim = c.getInt("head_dim", qwen3 ? 128 : (int) (hiddenSize / numHeads), 1, Integer.MAX_VALUE);
        this.qkNorm = qwen3;
        this.rmsNormEps = c.getDouble("rms_norm_eps", 1e-6, 0, Double.MAX_VALUE);
        boolean qwen = modelType.equals("qwen2");
        this.attentionBias = !qwen && c.getBoolean("attention_bias", false);
        this.qkvBias = qwen || attentionBias;
        this.mlpBias = c.getBoolean("mlp_bias", false);
        this.tieWordEmbeddings = c.getBoolean("tie_word_embeddings", false);
        this.hiddenAct = activation(c, "hidden_act", "silu");
        this.attentionDropout = c.getDouble("attention_dropout", 0.0, 0.0, Math.nextDown(1.0));
        if (numHeads % numKvHeads != 0) {
            throw new IllegalArgumentException(c.source() + ": num_attention_heads (" + numHeads
                    + ") must be a multiple of num_key_value_heads (" + numKvHeads + ")");
        }
        this.rope = RopeSettings.from(c, headDim);
        this.slidingWindow = slidingWindow(c, modelType);
        this.layerTypes = layerTypes(c, modelType, numLayers, slidingWindow);
    }

    /**
     * The activation named by {@code key}, checked against the ones peft4j implements.
     *
     * @throws IllegalArgumentException naming the file and the field for an unsupported activation
     */
    public static String activation(ModelConfig c, String key, String dflt) {
        String name = c.getString(key, dflt);
        try {
            new org.peft4j.nn.Activation(name);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(c.source() + ": field '" + key + "': " + e.getMessage(), e);
        }
        return name;
    }

    /**
     * {@code config.sliding_window} as transformers sets it: Mistral's {@code sliding_window} (4096 when the key is
     * absent, none when null); Qwen2's and Qwen3's {@code sliding_window} (default
     * 4096) only with {@code use_sliding_window};
     * none for Llama.
     */
    static Long slidingWindow(ModelConfig c, String modelType) {
        switch (modelType) {
            case "mistral":
                return !c.containsKey("sliding_window") ? Long.valueOf(4096)
                        : c.has("sliding_window") ? Long.valueOf(c.getInt("sliding_window", 1, Integer.MAX_VALUE)) : null;
            case "qwen2":
            case "qwen3":
                if (!c.getBoolean("use_sliding_window", false)) {
                    return null;
                }
                return !c.containsKey("sliding_window") ? Long.valueOf(4096)
                        : c.has("sliding_window") ? Long.valueOf(c.getInt("sliding_window", 1, Integer.MAX_VALUE)) : null;
            default:
                return null;
        }
    }

    /**
     * Per-layer attention type. Qwen2 and Qwen3: {@code layer_types} from config.json, else sliding for layers
     * {@code i >= max_window_layers} (default 28) when there is a window. Mistral: every layer slides when there is a
     * window ({@code layer_types} is ignored, as MistralModel does). Llama: all full.
     */
    static List<String> layerTypes(ModelConfig c, String modelType, int numLayers, Long window) {
        boolean qwen = modelType.equals("qwen2") || modelType.equals("qwen3");
        List<String> types = qwen ? c.getStrings("layer_types") : null;
        if (types == null) {
            int firstSliding = qwen ? c.getInt("max_window_layers", 28, 0, Integer.MAX_VALUE) : 0;
            types = new ArrayList<>();
            for (int i = 0; i < numLayers; i++) {
                types.add(window != null && i >= firstSliding ? SLIDING_ATTENTION : FULL_ATTENTION);
            }
        }
        if (types.size() != numLayers) {
            throw new IllegalArgumentException(c.source() + ": field 'layer_types': `num_hidden_layers` (" + numLayers
                    + ") must be equal to the number of `layer_types` (" + types.size() + ")");
        }
        for (String t : types) {
            if (!t.equals(FULL_ATTENTION) && !t.equals(SLIDING_ATTENTION)) {
                throw new IllegalArgumentException(c.source() + ": field 'layer_types': layer type '" + t
                        + "' is not supported, expected "
                        + FULL_ATTENTION + " or " + SLIDING_ATTENTION);
            }
        }
        return Collections.unmodifiableList(new ArrayList<>(types));
    }

    /**
     * The config.json this was read from.
     *
     * @return the raw config
     */
    public ModelConfig raw() {
        return raw;
    }

    /**
     * {@code model_type} ({@code llama}, {@code qwen2}, {@code mistral}, ...).
     *
     * @return the model type
     */
    public String modelType() {
        return modelType;
    }

    @Override
    public long vocabSize() {
        return vocabSize;
    }

    @Override
    public long hiddenSize() {
        return hiddenSize;
    }

    @Override
    public int numLayers() {
        return numLayers;
    }

    /**
     * {@code num_attention_heads}: query heads per layer.
     *
     * @return the number of heads
     */
    public int numHeads() {
        return numHeads;
    }

    @Override
    public int numKvHeads() {
        return numKvHeads;
    }

    @Override
    public long headDim() {
        return headDim;
    }

    @Override
    public boolean tieWordEmbeddings() {
        return tieWordEmbeddings;
    }

    /** The sliding attention window ({@code config.sliding_window}), or null when no layer slides. */
    public Long slidingWindow() {
        return slidingWindow;
    }

    /** Each layer's attention type, {@link #FULL_ATTENTION} or {@link #SLIDING_ATTENTION}. */
    public List<String> layerTypes() {
        return layerTypes;
    }

    /** Rotary embedding settings: theta, and the rope scaling type with its parameters. */
    static final class RopeSettings {
        final double theta;
        final String type;
        final JsonObject params;
        final String source;
        final String field;

        RopeSettings(double theta, String type, JsonObject params, String source, String field) {
            this.theta = theta;
            this.type = type;
            this.params = params;
            this.source = source;
            this.field = field;
        }

        static RopeSettings from(ModelConfig c, long headDim) {
            JsonObject rp = object(c, "rope_parameters");
            JsonObject scaling = object(c, "rope_scaling");
            double theta = c.getDouble("rope_theta", 10000.0, Double.MIN_VALUE, Double.MAX_VALUE);
            JsonObject params = scaling;
            String field = "rope_scaling";
            if (rp != null) {
                params = rp;
                field = "rope_parameters";
                if (rp.has("rope_theta") && !rp.get("rope_theta").isJsonNull()) {
                    theta = positive(c, field, rp, "rope_theta");
                }
            }
            String type = "default";
            if (params != null) {
                String tk = params.has("rope_type") ? "rope_type" : "type";
                JsonElement t = params.get(tk);
                if (t != null && !t.isJsonNull()) {
                    if (!t.isJsonPrimitive() || !t.getAsJsonPrimitive().isString()) {
                        throw c.error(field + "." + tk, "a string", t);
                    }
                    type = t.getAsString();
                }
                switch (type) {
                    case "default": case "linear": case "llama3":
                        break;
                    default:
                        throw new IllegalArgumentException(c.source() + ": field '" + field + "." + tk + "': rope type '"
                                + type + "' is not supported, expected default, linear or llama3");
                }
                List<String> needed = type.equals("linear") ? List.of("factor") : type.equals("llama3")
                        ? List.of("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings")
                        : List.of();
                for (String k : needed) {
                    positive(c, field, params, k);
                }
            }
            return new RopeSettings(theta, type, params, c.source(), field);
        }

        /** A positive finite number of the rope object, or an error naming {@code field.key}. */
        private static double positive(ModelConfig c, String field, JsonObject o, String key) {
            JsonElement e = o.get(key);
            if (e == null || e.isJsonNull()) {
                throw new IllegalArgumentException(c.source() + ": rope scaling needs field '" + field + "." + key
                        + "'");
            }
            if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber() || !Double.isFinite(e.getAsDouble())
                    || e.getAsDouble() <= 0) {
                throw c.error(field + "." + key, "a positive finite number", e);
            }
            return e.getAsDouble();
        }

        double param(String key) {
            JsonElement e = params == null ? null : params.get(key);
            if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
                throw new IllegalArgumentException(source + ": rope scaling '" + type + "' needs field '" + field + "."
                        + key + "' (a number)");
            }
            return e.getAsDouble();
        }
    }

    /** A nested object of the config with its numbers as written, or null when absent or null. */
    static JsonObject object(ModelConfig c, String key) {
        return c.getMap(key) == null ? null : PlainJson.parseTrusted(c.getJson(key)).getAsJsonObject();
    }
}
