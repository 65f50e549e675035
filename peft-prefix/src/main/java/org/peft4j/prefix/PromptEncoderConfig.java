package org.peft4j.prefix;

import java.util.Map;
import org.peft4j.models.ModelConfig;
import org.peft4j.peft.config.ConfigJson;
import org.peft4j.peft.config.PeftType;
import org.peft4j.peft.config.TaskType;
import org.peft4j.peft.tuners.PromptLearningConfig;

/**
 * P-tuning's config (PEFT's {@code PromptEncoderConfig}, {@code peft_type} P_TUNING): the shared prompt-learning fields
 * plus {@code encoder_reparameterization_type} (MLP), {@code encoder_hidden_size} (null: {@code token_dim} once
 * prepared), {@code encoder_num_layers} (2) and {@code encoder_dropout} (0.0). Not thread-safe.
 */
public final class PromptEncoderConfig extends PromptLearningConfig {
    /** PEFT's default {@code encoder_num_layers}. */
    public static final int DEFAULT_ENCODER_NUM_LAYERS = 2;

    private PromptEncoderReparameterizationType encoderReparameterizationType =
            PromptEncoderReparameterizationType.MLP;
    private Integer encoderHiddenSize;
    private int encoderNumLayers = DEFAULT_ENCODER_NUM_LAYERS;
    private double encoderDropout = 0.0;

    /**
     * A config for {@code numVirtualTokens} virtual tokens with PEFT's defaults (MLP, no task type).
     *
     * @param numVirtualTokens {@code num_virtual_tokens}: the length of the trained prompt
     */
    public PromptEncoderConfig(int numVirtualTokens) {
        super(PeftType.P_TUNING);
        this.numVirtualTokens = numVirtualTokens;
    }

    private PromptEncoderConfig() {
        super(PeftType.P_TUNING);
    }

    /**
     * Sets {@code task_type}.
     *
     * @param t PEFT's {@code task_type} (such as {@code CAUSAL_LM}), or null
     * @return this config
     */
    public PromptEncoderConfig taskType(TaskType t) {
        this.taskType = t;
        return this;
    }

    /**
     * Sets {@code encoder_reparameterization_type}.
     *
     * @param t MLP (default) or LSTM
     * @return this config
     */
    public PromptEncoderConfig encoderReparameterizationType(PromptEncoderReparameterizationType t) {
        this.encoderReparameterizationType = t;
        return this;
    }

    /**
     * Sets {@code encoder_hidden_size} (null: {@code token_dim}).
     *
     * @param h the prompt encoder's hidden size, or null
     * @return this config
     */
    public PromptEncoderConfig encoderHiddenSize(Integer h) {
        this.encoderHiddenSize = h;
        return this;
    }

    /**
     * Sets {@code encoder_num_layers} (LSTM layers; MLP ignores it with PEFT's warning).
     *
     * @param n the number of LSTM layers
     * @return this config
     */
    public PromptEncoderConfig encoderNumLayers(int n) {
        this.encoderNumLayers = n;
        return this;
    }

    /**
     * Sets {@code encoder_dropout} (between LSTM layers while training).
     *
     * @param p the dropout probability
     * @return this config
     */
    public PromptEncoderConfig encoderDropout(double p) {
        this.encoderDropout = p;
        return this;
    }

    /**
     * {@code encoder_reparameterization_type} (default MLP).
     *
     * @return the prompt encoder's kind
     */
    public PromptEncoderReparameterizationType encoderReparameterizationType() {
        return encoderReparameterizationType;
    }

    /**
     * {@code encoder_hidden_size}, or null until prepared.
     *
     * @return the hidden size, or null
     */
    public Integer encoderHiddenSize() {
        return encoderHiddenSize;
    }

    /**
     * {@code encoder_num_layers} (default 2).
     *
     * @return the number of LSTM layers
     */
    public int encoderNumLayers() {
        return encoderNumLayers;
    }

    /**
     * {@code encoder_dropout} (default 0.0).
     *
     * @return the dropout probability
     */
    public double encoderDropout() {
        return encoderDropout;
    }

    /** The shared fields, then {@code encoder_hidden_size = token_dim} when unset (PEFT's preparation). */
    @Override
    public void prepareFor(ModelConfig model) {
        super.prepareFor(model);
        if (encoderHiddenSize == null) {
            encoderHiddenSize = tokenDim;
        }
    }

    /** Parses {@code adapter_config.json} (unknown keys are ignored with PEFT's warning). */
    static PromptEncoderConfig fromJson(ConfigJson j) {
        PromptEncoderConfig c = new PromptEncoderConfig();
        c.readPromptLearning(j);
        try {
            c.encoderReparameterizationType = PromptEncoderReparameterizationType.of(
                    j.string("encoder_reparameterization_type", "MLP"));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(j.source() + ": field 'encoder_reparameterization_type': "
                    + e.getMessage(), e);
        }
        c.encoderHiddenSize = j.value("encoder_hidden_size") == null
                ? null : j.integer("encoder_hidden_size", 0, 1, Integer.MAX_VALUE);
        c.encoderNumLayers = j.integer("encoder_num_layers", DEFAULT_ENCODER_NUM_LAYERS, 1, Integer.MAX_VALUE);
        c.encoderDropout = j.number("encoder_dropout", 0.0);
        warnUnknown(j, PromptEncoderConfig.class);
        return c;
    }

    @Override
    public PromptEncoderConfig copy() {
        PromptEncoderConfig c = new PromptEncoderConfig();
        copyPromptLearningTo(c);
        c.encoderReparameterizationType = encoderReparameterizationType;
        c.encoderHiddenSize = encoderHiddenSize;
        c.encoderNumLayers = encoderNumLayers;
        c.encoderDropout = encoderDropout;
        return c;
    }

    @Override
    protected Map<String, Object> methodFields() {
        Map<String, Object> m = promptLearningFields();
        m.put("encoder_reparameterization_type", encoderReparameterizationType.name());
        m.put("encoder_hidden_size", encoderHiddenSize);
        m.put("encoder_num_layers", encoderNumLayers);
        m.put("encoder_dropout", encoderDropout);
        return m;
    }
}
