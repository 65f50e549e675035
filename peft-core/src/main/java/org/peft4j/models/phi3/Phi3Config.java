package org.peft4j.models.phi3;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import org.peft4j.internal.PlainJson;
import org.peft4j.models.DecoderConfig;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.llama.LlamaConfig;

/**
 * Typed view of a Phi-3 config.json ({@code model_type} phi3) with transformers' {@code Phi3Config} defaults. The rope
 * settings come from {@code rope_parameters} (transformers 5) or {@code rope_scaling} (older files; {@code su} and
 * {@code yarn} are read as {@code longrope}), with {@code rope_theta} and {@code partial_rotary_factor} inside or at
 * the top level; {@code original_max_position_embeddings} at the top level wins, as transformers'
 * {@code standardize_rope_params} gives it priority for Phi-3.
 */
public final class Phi3Config implements DecoderConfig {
    final ModelConfig raw;
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
    final String hiddenAct;
    final double residPdrop;
    final double attentionDropout;
    final boolean tieWordEmbeddings;
    final long maxPositionEmbeddings;
    final long originalMaxPositionEmbeddings;
    /** The attention window (every layer), or null. */
    final Long slidingWindow;
    final double ropeTheta;
    /** {@code default} or {@code longrope}. */
    final String ropeType;
    /** {@code int(head_dim * partial_rotary_factor)}: how many dimensions of each head rotate. */
    final int rotaryDim;
    final double[] shortFactor;
    final double[] longFactor;
    /** The cos/sin multiplier: 1 for default rope, longrope's {@code attention_factor}. */
    final double attentionScaling;

    /**
     * Reads and validates a Phi-3 config (transformers' {@code Phi3Config} defaults for absent fields).
     *
     * @param c the parsed config.json
     * @throws IllegalArgumentException naming the file and the field for a missing, mistyped or out-of-range value
     */
    public Phi3Config(ModelConfig c) {
        this.raw = c;
        int max = Integer.MAX_VALUE;
        this.vocabSize = c.getInt("vocab_size", 32064, 1, max);
        this.padTokenId = c.has("pad_token_id") ? c.getLong("pad_token_id", -vocabSize, vocabSize - 1) : null;
        this.hiddenSize = c.getInt("hidden_size", 3072, 1, max);
        this.intermediateSize = c.getInt("intermediate_size", 8192, 1, max);
        this.numLayers = c.getInt("num_hidden_layers", 32, 0, max);
        this.numHeads = c.getInt("num_attention_heads", 32, 1, max);
        this.numKvHeads = c.has("num_key_value_heads") ? c.getInt("num_key_value_heads", 1, max) : numHeads;
        this.headDim = c.has("head_dim") ? c.getInt("head_dim", 1, max) : hiddenSize / numHeads;
        this.rmsNormEps = c.getDouble("rms_norm_eps", 1e-5, 0, Double.MAX_VALUE);
        this.hiddenAct = LlamaConfig.activation(c, "hidden_act", "silu");
        double belowOne = Math.nextDown(1.0);
        this.residPdrop = c.getDouble("resid_pdrop", 0.0, 0.0, belowOne);
        this.attentionDropout = c.getDouble("attention_dropout", 0.0, 0.0, belowOne);
        this.tieWordEmbeddings = c.getBoolean("tie_word_embeddings", false);
        this.maxPositionEmbeddings = c.getInt("max_position_embeddings", 4096, 1, max);
        this.slidingWindow = c.has("sliding_window") ? Long.valueOf(c.getInt("sliding_window", 1, max)) : null;
        if (numHeads % numKvHeads != 0) {
            throw new IllegalArgumentException(c.source() + ": num_attention_heads (" + numHeads
                    + ") must be a multiple of num_key_value_heads (" + numKvHeads + ")");
        }

        JsonObject rp = object(c, "rope_parameters");
        String field = "rope_parameters";
        if (rp == null || rp.size() == 0) {
            rp = object(c, "rope_scaling");
            field = "rope_scaling";
        }
        if (rp == null) {
            rp = new JsonObject();
        }
        this.ropeTheta = number(c, rp, field, "rope_theta", c.getDouble("rope_theta", 10000.0, Double.MIN_VALUE,
                Double.MAX_VALUE), Double.MAX_VALUE);
        double partial = number(c, rp, field, "partial_rotary_factor", c.getDouble("partial_rotary_factor", 1.0,
                Double.MIN_VALUE, 1.0), 1.0);
        this.rotaryDim = (int) (headDim * partial);
        String type = "default";
        for (String k : new String[] {"rope_type", "type"}) {
            JsonElement t = rp.get(k);
            if (t != null && !t.isJsonNull()) {
                type = t.getAsString();
                break;
            }
        }
        if (type.equals("su") || type.equals("yarn")) {
            type = "longrope";
        }
        if (!type.equals("default") && !type.equals("longrope")) {
            throw new IllegalArgumentException(c.source() + ": `rope_parameters`'s type field must be one of "
                    + "['longrope'], got " + type);
        }
        this.ropeType = type;
        this.originalMaxPositionEmbeddings = c.getInt("original_max_position_embeddings", 4096, 1, max);
        this.shortFactor = factors(c, rp, field, "short_factor");
        this.longFactor = factors(c, rp, field, "long_factor");
        if (type.equals("longrope")) {
            if (shortFactor == null || longFactor == null) {
                throw new IllegalArgumentException(c.source() + ": rope type 'longrope' needs field '" + field + "."
                        + (shortFactor == null ? "short_factor" : "long_factor") + "'");
            }
            // _compute_longrope_parameters: factor defaults to max / original, attention_factor to the paper's
            double factor = number(c, rp, field, "factor",
                    (double) maxPositionEmbeddings / originalMaxPositionEmbeddings, Double.MAX_VALUE);
            if (rp.has("attention_factor") && !rp.get("attention_factor").isJsonNull()) {
                this.attentionScaling = number(c, rp, field, "attention_factor", 1.0, Double.MAX_VALUE);
            } else {
                this.attentionScaling = factor <= 1.0 ? 1.0
                        : Math.sqrt(1 + Math.log(factor) / Math.log(originalMaxPositionEmbeddings));
            }
        } else {
            this.attentionScaling = 1.0;
        }
    }

    private static double number(ModelConfig c, JsonObject rp, String field, String key, double dflt, double max) {
        JsonElement e = rp.get(key);
        if (e == null || e.isJsonNull()) {
            return dflt;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber() || !(e.getAsDouble() > 0)
                || !(e.getAsDouble() <= max)) {
            throw c.error(field + "." + key, max == Double.MAX_VALUE ? "a positive finite number"
                    : "a number in (0, " + max + "]", e);
        }
        return e.getAsDouble();
    }

    /** A factor list, checked as Phi3Config.validate_rope (numbers, {@code rotary_dim / 2} of them), or null. */
    private double[] factors(ModelConfig c, JsonObject rp, String field, String key) {
        JsonElement e = rp.get(key);
        if (e == null || e.isJsonNull()) {
            return null;
        }
        if (!e.isJsonArray()) {
            throw new IllegalArgumentException(c.source() + ": `rope_parameters`'s " + key
                    + " field must be a list of numbers, got " + e);
        }
        JsonArray a = e.getAsJsonArray();
        double[] out = new double[a.size()];
        for (int i = 0; i < out.length; i++) {
            JsonElement x = a.get(i);
            if (!x.isJsonPrimitive() || !x.getAsJsonPrimitive().isNumber()) {
                throw new IllegalArgumentException(c.source() + ": `rope_parameters`'s " + key
                        + " field must be a list of numbers, got " + e);
            }
            out[i] = x.getAsDouble();
        }
        if (out.length != rotaryDim / 2) {
            throw new IllegalArgumentException(c.source() + ": `rope_parameters`'s " + key
                    + " field must have length " + rotaryDim / 2 + ", got " + out.length);
        }
        return out;
    }

    @Override
    public long headDim() {
        return headDim;
    }

    /** {@code default} or {@code longrope}. */
    public String ropeType() {
        return ropeType;
    }

    /** The cos/sin multiplier (longrope's attention factor, {@code sqrt(1 + ln s / ln original)} by default). */
    public double attentionScaling() {
        return attentionScaling;
    }

    /** The sliding attention window of every layer, or null. */
    public Long slidingWindow() {
        return slidingWindow;
    }

    /** {@code num_hidden_layers}. */
    @Override
    public int numLayers() {
        return numLayers;
    }

    /** {@code num_key_value_heads}. */
    @Override
    public int numKvHeads() {
        return numKvHeads;
    }

    /** {@code vocab_size}. */
    @Override
    public long vocabSize() {
        return vocabSize;
    }

    /** {@code hidden_size}. */
    @Override
    public long hiddenSize() {
        return hiddenSize;
    }

    /** {@code tie_word_embeddings}. */
    @Override
    public boolean tieWordEmbeddings() {
        return tieWordEmbeddings;
    }

    /** A nested object of the config with its numbers as written, or null when absent or null. */
    static JsonObject object(ModelConfig c, String key) {
        return c.getMap(key) == null ? null : PlainJson.parseTrusted(c.getJson(key)).getAsJsonObject();
    }
}
