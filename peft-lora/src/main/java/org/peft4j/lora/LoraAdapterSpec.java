package org.peft4j.lora;

import java.util.Random;
import org.peft4j.peft.tuners.TargetMatcher;

/**
 * Everything a LoRA layer needs to add one adapter ({@code update_layer}'s arguments): built from the config for one
 * target module by {@link #fromConfig}, with {@code rank_pattern} and {@code alpha_pattern} resolved.
 *
 * @param name the adapter name
 * @param r the rank (validated by the layer: PEFT's error for {@code r <= 0})
 * @param alpha {@code lora_alpha}
 * @param dropout {@code lora_dropout}
 * @param init {@code init_lora_weights}: {@code Boolean} or one of the named initialisations
 * @param rslora {@code use_rslora}: scaling {@code alpha / sqrt(r)} instead of {@code alpha / r}
 * @param variant the LoRA variant, e.g. {@link DoraVariant} for {@code use_dora}; null for plain LoRA
 * @param loraBias {@code lora_bias}: a trainable bias on {@code lora_B}
 * @param rng the generator for the adapter's initial weights
 * @param loftqConfig {@code loftq_config} when {@code init} is {@code "loftq"}, else null
 */
public record LoraAdapterSpec(String name, int r, double alpha, double dropout, Object init, boolean rslora,
        LoraVariant variant, boolean loraBias, Random rng, LoftQConfig loftqConfig) {

    /** A spec without {@code loftq_config}. */
    public LoraAdapterSpec(String name, int r, double alpha, double dropout, Object init, boolean rslora,
            LoraVariant variant, boolean loraBias, Random rng) {
        this(name, r, alpha, dropout, init, rslora, variant, loraBias, rng, null);
    }

    /**
     * The spec of adapter {@code adapterName} for the module at {@code key}: rank and alpha from the patterns when one
     * matches the key, else {@code r} and {@code lora_alpha}; {@link DoraVariant} when {@code use_dora}.
     */
    public static LoraAdapterSpec fromConfig(LoraConfig cfg, String adapterName, String key, Random rng) {
        String rk = TargetMatcher.patternKey(cfg.rankPattern(), key);
        String ak = TargetMatcher.patternKey(cfg.alphaPattern(), key);
        int r = rk == null ? cfg.r() : cfg.rankPattern().get(rk);
        double alpha = ak == null ? cfg.loraAlpha() : cfg.alphaPattern().get(ak);
        return new LoraAdapterSpec(adapterName, r, alpha, cfg.loraDropout(), cfg.initLoraWeights(), cfg.useRslora(),
                cfg.useDora() ? DoraVariant.INSTANCE : null, cfg.loraBias(), rng, cfg.loftqConfig());
    }

    /** Whether the variant is DoRA ({@code use_dora}). */
    public boolean useDora() {
        return variant instanceof DoraVariant;
    }

    /** This spec with another variant (null: plain LoRA). */
    public LoraAdapterSpec withVariant(LoraVariant v) {
        return new LoraAdapterSpec(name, r, alpha, dropout, init, rslora, v, loraBias, rng, loftqConfig);
    }
}
